import BulwarkAgent
import BulwarkAPI
import Foundation
import TestSupport
import Testing

/// Enrollment against a real `bulwarkd`: the token buys one identity, and the agent refuses a server whose CA is
/// not the one the token names before the token leaves the host.
@Suite(.serialized) struct EnrollmentTests {
    @Test func enrollsAndSavesAnIdentityTheServerAnswers() async throws {
        try await withEnrollmentServer { server, state in
            let token = try server.token()
            #expect(token.enrollCommand == "bulwark-agent enroll --server \(server.url) --name kvm1 --token \(token.token)")
            let identity = try await Enrollment(
                server: server.url + "/", token: token.token, host: "kvm1", stateDirectory: state.path
            ).run()
            #expect(identity.host == "kvm1")
            #expect(identity.serverURL.absoluteString == server.url, "the trailing slash is dropped")
            #expect(identity.caPEM == (try server.caPEM))
            #expect(try AgentIdentity.load(from: state.path) == identity)

            let checks = await HostCheck.enrollment(stateDirectory: state.path)
            #expect(checks.map(\.status) == [.ok, .ok], "\(checks)")
            #expect(checks.last?.message.contains("answers this agent") == true)
        }
    }

    @Test func aUsedTokenIsRefusedNamingTheHostThatUsedIt() async throws {
        try await withEnrollmentServer { server, state in
            let token = try server.token().token
            try await Enrollment(server: server.url, token: token, host: "kvm1", stateDirectory: state.path).run()
            let other = try TemporaryDirectory("agent-state-2")
            defer { other.cleanUp() }
            let error = await #expect(throws: AgentError.self) {
                try await Enrollment(server: server.url, token: token, host: "kvm2", stateDirectory: other.path).run()
            }
            #expect(error?.code == .unauthorized)
            #expect(error?.message.contains("already used by host 'kvm1'") == true, "\(String(describing: error))")
            #expect(!AgentIdentity.exists(in: other.path), "nothing is saved after a refusal")
        }
    }

    @Test func anUnknownTokenIsRefused() async throws {
        try await withEnrollmentServer { server, state in
            let real = try server.token().token
            let fingerprint = real.split(separator: ".")[1]
            let error = await #expect(throws: AgentError.self) {
                try await Enrollment(
                    server: server.url, token: "\(String(repeating: "ab", count: 32)).\(fingerprint)", host: "kvm1",
                    stateDirectory: state.path
                ).run()
            }
            #expect(error?.code == .unauthorized)
            #expect(error?.message.contains("does not know this enrollment token") == true)
        }
    }

    @Test func aServerWithAnotherCAIsRefusedBeforeTheTokenIsSent() async throws {
        try await withEnrollmentServer { server, state in
            let token = try server.token().token
            let other = try await EnrollmentTestServer()
            defer { other.stop() }
            let error = await #expect(throws: AgentError.self) {
                try await Enrollment(server: other.url, token: token, host: "kvm1", stateDirectory: state.path).run()
            }
            #expect(error?.code == .untrustedServer)
            #expect(error?.message.contains("presented CA") == true)
            #expect(error?.message.contains("but the token expects \(token.split(separator: ".")[1])") == true)
            #expect(error?.message.contains("check the server address and the token") == true)
            #expect(!AgentIdentity.exists(in: state.path))
            // The token was not spent: the right server still takes it.
            try await Enrollment(server: server.url, token: token, host: "kvm1", stateDirectory: state.path).run()
        }
    }

    @Test(.enabled(if: ImpostorServer.isAvailable, "needs python3 and openssl"))
    func anImpostorNeverSeesTheToken() async throws {
        try await withEnrollmentServer { server, state in
            let token = try server.token().token

            // An impostor with a CA of its own fails the fingerprint check after GET /v1/ca.
            let foreign = try await ImpostorServer(servingCA: nil)
            defer { foreign.stop() }
            let refused = await #expect(throws: AgentError.self) {
                try await Enrollment(server: foreign.url, token: token, host: "kvm1", stateDirectory: state.path).run()
            }
            #expect(refused?.code == .untrustedServer)
            #expect(foreign.requests == ["GET /v1/ca"])

            // One that replays the real CA passes that check but cannot show a certificate the CA signed: the TLS
            // handshake of POST /v1/enroll fails before any request is sent.
            let replaying = try await ImpostorServer(servingCA: try server.caPEM)
            defer { replaying.stop() }
            let handshake = await #expect(throws: AgentError.self) {
                try await Enrollment(server: replaying.url, token: token, host: "kvm1", stateDirectory: state.path)
                    .run()
            }
            #expect(handshake?.code == .untrustedServer, "\(String(describing: handshake))")
            #expect(replaying.requests == ["GET /v1/ca"])
        }
    }

    @Test func anExistingIdentityIsReplacedOnlyWithForce() async throws {
        try await withEnrollmentServer { server, state in
            let first = try await Enrollment(
                server: server.url, token: try server.token().token, host: "kvm1", stateDirectory: state.path
            ).run()
            let second = try server.token(host: "kvm1b").token
            let refused = await #expect(throws: AgentError.self) {
                try await Enrollment(server: server.url, token: second, host: "kvm1b", stateDirectory: state.path).run()
            }
            #expect(refused?.code == .alreadyEnrolled)
            #expect(refused?.message.contains("already enrolled with \(server.url) as 'kvm1'") == true)
            #expect(refused?.message.contains("--force") == true)
            #expect(try AgentIdentity.load(from: state.path) == first, "the refusal leaves the identity alone")

            let replaced = try await Enrollment(
                server: server.url, token: second, host: "kvm1b", stateDirectory: state.path, replacesExisting: true
            ).run()
            #expect(replaced.host == "kvm1b")
            #expect(replaced.privateKeyPEM != first.privateKeyPEM, "enrolling again makes a new key")
            #expect(try AgentIdentity.load(from: state.path) == replaced)
        }
    }

    @Test func inputsAreCheckedBeforeAnythingIsSent() throws {
        let token = "abc123.\(String(repeating: "0", count: 64))"
        let cases: [(server: String, host: String?, expected: String)] = [
            ("http://backup1:9443", "kvm1", "not an https:// URL"),
            ("backup1:9443", "kvm1", "not an https:// URL"),
            ("https://backup1:9443/?x=1", "kvm1", "query"),
            ("https://backup1:9443", "kvm_1", "host name 'kvm_1'"),
            ("https://backup1:9443", "-kvm", "host name '-kvm'"),
        ]
        for (server, host, expected) in cases {
            let error = #expect(throws: AgentError.self) {
                _ = try Enrollment(server: server, token: token, host: host, stateDirectory: "/nonexistent")
            }
            #expect(error?.code == .invalid)
            #expect(error?.message.contains(expected) == true, "\(server) \(host ?? "-"): \(String(describing: error))")
        }
        let defaulted = try Enrollment(server: "https://backup1:9443", token: token, host: nil, stateDirectory: "/x")
        #expect(defaulted.host == Enrollment.localHostName())
        #expect(Enrollment.isValidHostName(defaulted.host))
    }

    @Test func theCommandExitsWithCodesThatSayWhatWentWrong() async throws {
        try await withEnrollmentServer { server, state in
            let agent = productPath("bulwark-agent")
            func enroll(_ arguments: [String]) throws -> (status: Int32, output: String) {
                try ChildProcess(agent, ["enroll", "--state-dir", state.path] + arguments).wait()
            }
            let token = try server.token().token
            let fingerprint = String(token.split(separator: ".")[1])

            #expect(try enroll(["--server", server.url, "--token", "nodot", "--name", "kvm1"]).status == 78)
            let mismatch = try enroll(
                ["--server", server.url, "--token", "abc.\(String(repeating: "1", count: 64))", "--name", "kvm1"])
            #expect(mismatch.status == 78)
            #expect(mismatch.output.contains("presented CA"))
            let unknown = try enroll(
                ["--server", server.url, "--token", "abc.\(fingerprint)", "--name", "kvm1"])
            #expect(unknown.status == 1, "\(unknown.output)")
            #expect(try enroll(["--server", "https://127.0.0.1:1", "--token", token, "--name", "kvm1"]).status == 69)

            let enrolled = try enroll(["--server", server.url, "--token", token, "--name", "kvm1"])
            #expect(enrolled.status == 0, "\(enrolled.output)")
            #expect(enrolled.output.contains("enrolled as 'kvm1'"))
            let again = try enroll(["--server", server.url, "--token", try server.token(reenroll: true).token, "--name", "kvm1"])
            #expect(again.status == 78)
            #expect(again.output.contains("--force"))

            // A token is for one host: another name is refused by the server (exit 1), naming the token's host.
            let elsewhere = try TemporaryDirectory("agent-state-other")
            defer { elsewhere.cleanUp() }
            let wrong = try ChildProcess(
                agent, ["enroll", "--state-dir", elsewhere.path, "--server", server.url, "--token",
                        try server.token(host: "kvm2").token, "--name", "kvm3"]).wait()
            #expect(wrong.status == 1, "\(wrong.output)")
            #expect(wrong.output.contains("issued for host 'kvm2', not 'kvm3'"), "\(wrong.output)")
            #expect(!AgentIdentity.exists(in: elsewhere.path))
        }
    }

    @Test func reenrollingAHostReplacesItsCertificateAndTheOldOneStopsWorking() async throws {
        try await withEnrollmentServer { server, state in
            try await Enrollment(
                server: server.url, token: try server.token().token, host: "kvm1", stateDirectory: state.path
            ).run()
            // `agent token --host kvm1` without --reenroll is refused: the host is enrolled.
            #expect(throws: TestFailure.self) { try server.token() }

            let replacement = try TemporaryDirectory("agent-state-new")
            defer { replacement.cleanUp() }
            let token = try server.token(reenroll: true)
            #expect(token.enrollCommand.hasSuffix("--force"))
            try await Enrollment(
                server: server.url, token: token.token, host: "kvm1", stateDirectory: replacement.path
            ).run()
            #expect(await HostCheck.enrollment(stateDirectory: replacement.path).map(\.status) == [.ok, .ok])
            let old = await HostCheck.enrollment(stateDirectory: state.path)
            #expect(old.map(\.status) == [.ok, .fail], "the replaced certificate no longer opens agent calls: \(old)")
            #expect(try server.bulwark(["alerts"]).contains("agent-reenrolled"))
        }
    }

    /// The agent renews its own certificate over the current one: the new one works at once, the old one is refused,
    /// and renewal is due only in the last 30 days.
    @Test func anAgentRenewsItsCertificateBeforeItExpires() async throws {
        try await withEnrollmentServer { server, state in
            let identity = try await Enrollment(
                server: server.url, token: try server.token().token, host: "kvm1", stateDirectory: state.path
            ).run()
            #expect(!CertificateRenewal.isDue(identity))
            #expect(CertificateRenewal.isDue(identity, now: Date().addingTimeInterval(2 * 365 * 86_400 - 10 * 86_400)))

            let connection = try ServerConnection(identity: identity)
            let renewed = try await CertificateRenewal.renew(over: connection)
            #expect(renewed.host == "kvm1" && renewed.privateKeyPEM != identity.privateKeyPEM)
            #expect(renewed.certificatePEM != identity.certificatePEM)
            let ping = try await connection.json(.GET, "/v1/agent/ping", as: AgentPing.self)
            #expect(ping?.host == "kvm1", "the connection presents the new certificate")
            await connection.shutdown()

            let old = try ServerConnection(identity: identity)
            let refused = await #expect(throws: AgentError.self) {
                _ = try await old.json(.GET, "/v1/agent/ping", as: AgentPing.self)
            }
            #expect(refused?.code == .unauthorized)
            await old.shutdown()
        }
    }
}
