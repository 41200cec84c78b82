import BulwarkAgent
import Foundation
import TestSupport
import Testing

/// The state directory: what `enroll` writes and `run` reads, with modes that keep the key private and errors that
/// say which file is missing or damaged.
@Suite struct AgentIdentityTests {
    static let identity = AgentIdentity(
        serverURL: URL(string: "https://backup1:9443")!, host: "kvm1",
        certificatePEM: "-----BEGIN CERTIFICATE-----\nY2VydA==\n-----END CERTIFICATE-----\n",
        privateKeyPEM: "-----BEGIN PRIVATE KEY-----\na2V5\n-----END PRIVATE KEY-----\n",
        caPEM: "-----BEGIN CERTIFICATE-----\nY2E=\n-----END CERTIFICATE-----\n")

    static func mode(_ path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test func savesAndLoadsTheSameIdentity() throws {
        let directory = try TemporaryDirectory("agent-identity")
        defer { directory.cleanUp() }
        let state = directory.file("state/nested")
        #expect(!AgentIdentity.exists(in: state))
        try Self.identity.save(to: state)
        #expect(AgentIdentity.exists(in: state))
        #expect(try AgentIdentity.load(from: state) == Self.identity)
    }

    @Test func theKeyIsPrivateAndTheRestReadable() throws {
        let directory = try TemporaryDirectory("agent-identity")
        defer { directory.cleanUp() }
        let state = directory.file("state")
        try Self.identity.save(to: state)
        #expect(try Self.mode(state) == 0o700)
        #expect(try Self.mode("\(state)/agent-key.pem") == 0o600)
        for name in ["agent.pem", "ca.pem", "agent.json"] {
            #expect(try Self.mode("\(state)/\(name)") == 0o644, "\(name)")
        }
    }

    @Test func savingAgainReplacesEveryFileAndLeavesNoTemporaries() throws {
        let directory = try TemporaryDirectory("agent-identity")
        defer { directory.cleanUp() }
        try Self.identity.save(to: directory.path)
        var replaced = Self.identity
        replaced.host = "kvm2"
        replaced.privateKeyPEM = "-----BEGIN PRIVATE KEY-----\nb3RoZXI=\n-----END PRIVATE KEY-----\n"
        try replaced.save(to: directory.path)
        #expect(try AgentIdentity.load(from: directory.path) == replaced)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names == ["agent-key.pem", "agent.json", "agent.pem", "ca.pem"])
    }

    @Test func aMissingStateDirectoryMeansNotEnrolled() throws {
        let error = #expect(throws: AgentError.self) { try AgentIdentity.load(from: "/nonexistent/bulwark-agent") }
        #expect(error?.code == .notEnrolled)
        #expect(error?.message.contains("/nonexistent/bulwark-agent/agent.json") == true)
        #expect(error?.message.contains("bulwark-agent enroll") == true)
    }

    @Test(arguments: ["agent-key.pem", "agent.pem", "ca.pem"])
    func aMissingFileIsNamed(_ name: String) throws {
        let directory = try TemporaryDirectory("agent-identity")
        defer { directory.cleanUp() }
        try Self.identity.save(to: directory.path)
        try FileManager.default.removeItem(atPath: directory.file(name))
        let error = #expect(throws: AgentError.self) { try AgentIdentity.load(from: directory.path) }
        #expect(error?.code == .notEnrolled)
        #expect(error?.message.contains(directory.file(name)) == true)
    }

    @Test func damagedSettingsAreReported() throws {
        let directory = try TemporaryDirectory("agent-identity")
        defer { directory.cleanUp() }
        try Self.identity.save(to: directory.path)

        try "{not json".write(toFile: directory.file("agent.json"), atomically: true, encoding: .utf8)
        let damaged = #expect(throws: AgentError.self) { try AgentIdentity.load(from: directory.path) }
        #expect(damaged?.code == .notEnrolled)
        #expect(damaged?.message.contains("agent.json is damaged") == true)

        try #"{"server": "http://backup1:9443", "host": "kvm1"}"#
            .write(toFile: directory.file("agent.json"), atomically: true, encoding: .utf8)
        let plain = #expect(throws: AgentError.self) { try AgentIdentity.load(from: directory.path) }
        #expect(plain?.message.contains("'http://backup1:9443', not an https URL") == true)
    }

    @Test func aStateDirectoryThatIsAFileCannotBeWritten() throws {
        let directory = try TemporaryDirectory("agent-identity")
        defer { directory.cleanUp() }
        try "".write(toFile: directory.file("file"), atomically: true, encoding: .utf8)
        let error = #expect(throws: AgentError.self) { try Self.identity.save(to: directory.file("file")) }
        #expect(error?.code == .local)
        #expect(error?.message.contains(directory.file("file")) == true)
    }
}
