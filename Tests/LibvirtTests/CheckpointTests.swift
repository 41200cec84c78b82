import Foundation
import Libvirt
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

/// Checkpoint metadata through `Domain` and `Checkpoint` on the test driver, which keeps checkpoints as metadata only
/// (no image holds a bitmap).
@Suite struct CheckpointTests {
    /// A redefinable checkpoint of `vda` only, as a restore or a move to another host would hand it to libvirt.
    static func checkpointXML(name: String, parent: String? = nil, creationTime: Int64) -> String {
        """
        <domaincheckpoint>
          <name>\(name)</name>
          \(parent.map { "<parent><name>\($0)</name></parent>" } ?? "")
          <creationTime>\(creationTime)</creationTime>
          <disks>
            <disk name='vda' checkpoint='bitmap' bitmap='\(name)'/>
            <disk name='sda' checkpoint='no'/>
          </disks>
        </domaincheckpoint>
        """
    }

    @Test func lookupOfAMissingCheckpointThrowsNoCheckpoint() throws {
        let connection = try Connection(uri: TestDriver.uri)
        try TestDriver.withDomain(on: connection) { domain in
            #expect(try domain.checkpoints().isEmpty)
            let error = try #require(throws: LibvirtError.self) { try domain.checkpoint(named: "missing") }
            #expect(error.code == .noCheckpoint)
            #expect(error.operation == "virDomainCheckpointLookupByName")
            #expect(error.subject == "checkpoint 'missing' of domain '\(domain.name)'")
        }
    }

    @Test func createsACheckpointOnARunningDomain() throws {
        let connection = try Connection(uri: TestDriver.uri)
        try TestDriver.withDomain(on: connection, running: true) { domain in
            let definition = CheckpointDefinition(name: "c1", bitmapDisks: ["vda"], excludedDisks: ["sda"])
            let checkpoint = try domain.createCheckpoint(definition)
            #expect(checkpoint.name == "c1")
            #expect(checkpoint.domain.name == domain.name)

            let description = try checkpoint.description()
            #expect(description.name == "c1")
            #expect(description.parent == nil)
            #expect(description.bitmapDisks == ["vda"])
            #expect(description.disks.first { $0.name == "vda" }?.bitmap == "c1")
            #expect(description.creationTime.map { $0 > 0 } == true)

            // The next checkpoint's parent is the current one: the chain incremental backups walk.
            try domain.createCheckpoint(CheckpointDefinition(name: "c2", bitmapDisks: ["vda"], excludedDisks: ["sda"]))
            #expect(try domain.checkpoint(named: "c2").description().parent == "c1")
            #expect(try domain.checkpoints().map(\.name) == ["c1", "c2"])

            let duplicate = try #require(throws: LibvirtError.self) { try domain.createCheckpoint(definition) }
            #expect(duplicate.code == .operationFailed)
            #expect(duplicate.operation == "virDomainCheckpointCreateXML")
            #expect(duplicate.subject == "create checkpoint 'c1' on domain '\(domain.name)'")
        }
    }

    /// Free text in the definition reaches libvirt as text: libvirt parses the document and prints it back.
    @Test func descriptionWithMarkupSurvivesLibvirt() throws {
        let connection = try Connection(uri: TestDriver.uri)
        try TestDriver.withDomain(on: connection, running: true) { domain in
            let text = #"a<b&'"c ]]> <name>x</name>"#
            let checkpoint = try domain.createCheckpoint(
                CheckpointDefinition(name: "c.1_x-y", description: text, bitmapDisks: ["vda"], excludedDisks: ["sda"]))
            #expect(checkpoint.name == "c.1_x-y")
            let document = try XMLDocument(xmlString: try checkpoint.xml(), options: [])
            let description = try document.nodes(forXPath: "/domaincheckpoint/description").first?.stringValue
            #expect(description == text)
            #expect(try checkpoint.description().name == "c.1_x-y")
        }
    }

    /// Libvirt's schema allows only `[A-Za-z0-9_-][A-Za-z0-9_.-]*` as a checkpoint name, so an ISO 8601 timestamp
    /// with colons cannot be one. Libvirt would answer with a bare schema failure (code 92); the wrapper refuses
    /// first, with a message that names the bad value and what is allowed.
    @Test func refusesCheckpointNamesOutsideLibvirtsSchema() throws {
        let connection = try Connection(uri: TestDriver.uri)
        try TestDriver.withDomain(on: connection, running: true) { domain in
            for name in ["nightly-2024-05-01T02:00:00Z", ".hidden", "a/b"] {
                let error = try #require(throws: LibvirtError.self) {
                    try domain.createCheckpoint(CheckpointDefinition(name: name, bitmapDisks: ["vda"]))
                }
                #expect(error.code == .invalidArgument, "for \(name)")
                #expect(error.operation == "create checkpoint '\(name)'")
                #expect(error.subject == "domain '\(domain.name)'")
                #expect(error.message.contains("'\(name)'"))
            }
            #expect(try domain.checkpoints().isEmpty)
        }
    }

    @Test func cannotCreateACheckpointOfAStoppedDomain() throws {
        let connection = try Connection(uri: TestDriver.uri)
        try TestDriver.withDomain(on: connection) { domain in
            let error = try #require(throws: LibvirtError.self) {
                try domain.createCheckpoint(CheckpointDefinition(name: "c1", bitmapDisks: ["vda"]))
            }
            #expect(error.code == .operationUnsupported)
            #expect(error.description.contains("inactive domain"))
            #expect(try domain.checkpoints().isEmpty)
        }
    }

    @Test func redefinesAChainListsItParentsFirstAndDeletesMetadata() throws {
        let connection = try Connection(uri: TestDriver.uri)
        // Running: the test driver, unlike QEMU, refuses to redefine checkpoints of an inactive domain.
        try TestDriver.withDomain(on: connection, running: true) { domain in
            // A restore has to redefine parents before children: libvirt refuses an unknown parent.
            let orphan = try #require(throws: LibvirtError.self) {
                try domain.redefineCheckpoint(
                    xml: Self.checkpointXML(name: "r2", parent: "r1", creationTime: 1_700_000_100), validate: false)
            }
            #expect(orphan.code == .invalidArgument)
            #expect(orphan.message.contains("parent r1"))

            // A chain long enough that libvirt's hash-table order would be unlikely to pass for parents-first.
            let chain = (1...12).map { "r\($0)" }
            for (index, name) in chain.enumerated() {
                let xml = Self.checkpointXML(
                    name: name, parent: index == 0 ? nil : chain[index - 1], creationTime: 1_700_000_000 + Int64(index))
                try domain.redefineCheckpoint(xml: xml, validate: false)
            }
            #expect(try domain.checkpoints().map(\.name) == chain)

            let r3 = try domain.checkpoint(named: "r3").description()
            #expect(r3.parent == "r2")
            #expect(r3.creationTime == 1_700_000_002)
            #expect(r3.bitmapDisks == ["vda"])
            #expect(r3.disks.map(\.name) == ["vda", "sda"])

            try domain.checkpoint(named: "r12").delete(metadataOnly: true)
            let deleted = try #require(throws: LibvirtError.self) { try domain.checkpoint(named: "r12") }
            #expect(deleted.code == .noCheckpoint)
            #expect(try domain.checkpoints().map(\.name) == Array(chain.dropLast()))
        }
    }

    /// What Bulwark keeps to re-register a checkpoint elsewhere: the redefinable XML, domain included.
    @Test func redefinableXMLRestoresDeletedMetadata() throws {
        let connection = try Connection(uri: TestDriver.uri)
        try TestDriver.withDomain(on: connection, running: true) { domain in
            let original = try domain.createCheckpoint(CheckpointDefinition(name: "c1", bitmapDisks: ["vda"]))
            let saved = try original.redefinableXML()
            #expect(saved.contains("<domain"))
            let before = try original.description()
            try original.delete(metadataOnly: true)
            #expect(try domain.checkpoints().isEmpty)

            let restored = try domain.redefineCheckpoint(xml: saved, validate: false)
            #expect(restored.name == "c1")
            #expect(try restored.description() == before)
            // Parsing the full form ignores the embedded domain's disks.
            #expect(try CheckpointDescription(xml: saved) == before)
        }
    }

    /// The test driver cannot check bitmaps, so it refuses the validate flag; the refusal must be a typed error.
    @Test func validatingRedefineIsRefusedByTheTestDriver() throws {
        let connection = try Connection(uri: TestDriver.uri)
        try TestDriver.withDomain(on: connection, running: true) { domain in
            let error = try #require(throws: LibvirtError.self) {
                try domain.redefineCheckpoint(xml: Self.checkpointXML(name: "v1", creationTime: 1), validate: true)
            }
            #expect(error.code == .invalidArgument)
            #expect(error.subject == "redefine checkpoint on domain '\(domain.name)'")
            #expect(try domain.checkpoints().isEmpty)
        }
    }

    @Test func rejectsMalformedCheckpointXML() throws {
        let connection = try Connection(uri: TestDriver.uri)
        try TestDriver.withDomain(on: connection, running: true) { domain in
            let error = try #require(throws: LibvirtError.self) {
                try domain.redefineCheckpoint(xml: "<domaincheckpoint><name>x</name>", validate: false)
            }
            #expect(error.operation == "virDomainCheckpointCreateXML")
            #expect(try domain.checkpoints().isEmpty)
        }
    }
}
