import Libvirt
import Testing

/// Guest agent, quiesce and job calls on the test driver: what Bulwark gets where a driver lacks a feature.
@Suite struct DomainOperationsTests {
    /// The test driver has no guest agent API at all. That is not a guest without an agent (which would read as
    /// `false`) but a host that cannot answer, so the wrapper throws as its documentation promises.
    @Test func guestAgentProbeThrowsWhereTheDriverHasNoAgentAPI() throws {
        let connection = try Connection(uri: TestDriver.uri)
        try TestDriver.withDomain(on: connection, running: true) { domain in
            let error = try #require(throws: LibvirtError.self) { try domain.isGuestAgentAnswering(timeout: 1) }
            #expect(error.code == .noSupport)
            #expect(error.operation == "virDomainQemuAgentCommand")
            #expect(error.subject == "domain '\(domain.name)'")
        }
    }

    @Test func jobCallsAreTypedErrorsWithoutBackupSupport() throws {
        let connection = try Connection(uri: TestDriver.uri)
        try TestDriver.withDomain(on: connection, running: true) { domain in
            let stats = try #require(throws: LibvirtError.self) { try domain.jobStats() }
            #expect(stats.code == .noSupport)
            #expect(stats.operation == "virDomainGetJobStats")

            #expect(try #require(throws: LibvirtError.self) { try domain.abortJob() }.code == .noSupport)
            #expect(try #require(throws: LibvirtError.self) { try domain.backupDescription() }.code == .noSupport)

            let definition = BackupDefinition(
                socketPath: "/nonexistent/bulwark.sock",
                disks: [.init(name: "vda", scratchFile: "/nonexistent/s.qcow2")])
            let begin = try #require(throws: LibvirtError.self) { try domain.beginBackup(definition) }
            #expect(begin.code == .noSupport)
        }
    }

    /// The test driver does implement filesystem freeze and thaw, so quiescing runs end to end here.
    @Test func quiescedCheckpointOnARunningDomain() throws {
        let connection = try Connection(uri: TestDriver.uri)
        try TestDriver.withDomain(on: connection, running: true) { domain in
            let checkpoint = try domain.createCheckpoint(
                CheckpointDefinition(name: "q1", bitmapDisks: ["vda"], excludedDisks: ["sda"]), quiesce: true)
            #expect(try checkpoint.description().bitmapDisks == ["vda"])
            #expect(try domain.whileFrozen { () throws(LibvirtError) in try domain.checkpoints().count } == 1)
        }
    }

    /// A failure inside the frozen section is the error the caller sees, not one from the thaw that follows it.
    @Test func whileFrozenPassesOnTheBodysError() throws {
        let connection = try Connection(uri: TestDriver.uri)
        try TestDriver.withDomain(on: connection, running: true) { domain in
            let error = try #require(throws: LibvirtError.self) {
                try domain.whileFrozen { () throws(LibvirtError) in _ = try domain.checkpoint(named: "absent") }
            }
            #expect(error.code == .noCheckpoint)
            #expect(error.operation == "virDomainCheckpointLookupByName")
        }
    }

    /// Nothing can be frozen in a stopped domain; the body must not run then.
    @Test func whileFrozenFailsBeforeTheBodyOnAStoppedDomain() throws {
        let connection = try Connection(uri: TestDriver.uri)
        try TestDriver.withDomain(on: connection) { domain in
            var ran = false
            let error = try #require(throws: LibvirtError.self) {
                try domain.whileFrozen { () throws(LibvirtError) in ran = true }
            }
            #expect(!ran)
            #expect(error.code == .operationInvalid)
            #expect(error.operation == "virDomainFSFreeze")
            #expect(error.subject == "quiesce domain '\(domain.name)'")
        }
    }
}
