import BulwarkAPI
import BulwarkClient
import BulwarkServer
import Crypto
import Foundation
import TestSupport
import Testing
import X509

/// Agent enrollment: a one-time token buys a client certificate from the server's CA; the certificate then passes
/// the server's TLS handshake, and one from another CA does not.
@Suite struct EnrollmentTests {
    static func csr(host: String) throws -> (pem: String, key: Certificate.PrivateKey) {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let request = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName(host) }, privateKey: key,
            attributes: CertificateSigningRequest.Attributes(), signatureAlgorithm: .ecdsaWithSHA256)
        return (try request.serializeAsPEM().pemString, key)
    }

    @Test func tokenBuysOneCertificateOnly() async throws {
        try await withServer { client, directory in
            let token: EnrollmentTokenView = try await client.post("/v1/agents/tokens", EnrollmentTokenRequest(host: "kvm7", expires: "10m"))
            #expect(token.host == "kvm7")
            let request = try Self.csr(host: "kvm7")

            let badCSR = await #expect(throws: ClientError.self) {
                let _: EnrollmentResponse = try await client.post(
                    "/v1/enroll", EnrollmentRequest(token: token.token, host: "kvm7", csr: "not a csr"))
            }
            #expect(badCSR?.code == .rejected)

            let enrolled: EnrollmentResponse = try await client.post(
                "/v1/enroll", EnrollmentRequest(token: token.token, host: "kvm7", csr: request.pem))
            let certificate = try Certificate(pemEncoded: enrolled.certificate)
            #expect(certificate.publicKey == request.key.publicKey)
            #expect(try enrolled.caCertificate == String(contentsOfFile: directory.caCertificatePath, encoding: .utf8))
            let agents: [AgentView] = try await client.get("/v1/agents")
            #expect(agents.map(\.host) == ["kvm7"])
            #expect(agents.first?.certificateFingerprint == (try CertificateAuthority.fingerprint(of: certificate)))

            let reused = await #expect(throws: ClientError.self) {
                let _: EnrollmentResponse = try await client.post(
                    "/v1/enroll", EnrollmentRequest(token: token.token, host: "kvm8", csr: try Self.csr(host: "kvm8").pem))
            }
            #expect(reused?.code == .unauthorized)
            #expect(reused?.message.contains("kvm7") == true, "the refusal names the host that used the token")
            let badHost = await #expect(throws: ClientError.self) {
                let _: EnrollmentResponse = try await client.post(
                    "/v1/enroll", EnrollmentRequest(token: "0000", host: "hôst", csr: try Self.csr(host: "x").pem))
            }
            #expect(badHost?.code == .rejected)
            #expect(badHost?.message.contains("hôst") == true)
            let unknown = await #expect(throws: ClientError.self) {
                let _: EnrollmentResponse = try await client.post(
                    "/v1/enroll", EnrollmentRequest(token: "0000", host: "kvm9", csr: try Self.csr(host: "kvm9").pem))
            }
            #expect(unknown?.code == .unauthorized)
        }
    }

    @Test func onlyCertificatesOfTheServersCAPassTheHandshake() async throws {
        let files = try TemporaryDirectory("enroll")
        defer { files.cleanUp() }
        try await withServer { client, directory in
            let token: EnrollmentTokenView = try await client.post("/v1/agents/tokens", EnrollmentTokenRequest(host: "kvm1"))
            let request = try Self.csr(host: "kvm1")
            let enrolled: EnrollmentResponse = try await client.post(
                "/v1/enroll", EnrollmentRequest(token: token.token, host: "kvm1", csr: request.pem))
            try enrolled.certificate.write(toFile: files.file("agent.pem"), atomically: true, encoding: .utf8)
            try request.key.serializeAsPEM().pemString.write(toFile: files.file("agent-key.pem"), atomically: true, encoding: .utf8)

            let foreignCA = try CertificateAuthority.generate(commonName: "Another CA")
            let foreignKeyRequest = try Self.csr(host: "evil2")
            let foreignCertificate = try foreignCA.issueAgentCertificate(csrPEM: foreignKeyRequest.pem, host: "evil2")
            try foreignCertificate.serializeAsPEM().pemString.write(toFile: files.file("foreign.pem"), atomically: true, encoding: .utf8)
            try foreignKeyRequest.key.serializeAsPEM().pemString.write(toFile: files.file("foreign-key.pem"), atomically: true, encoding: .utf8)

            let url = client.configuration.serverURL.absoluteString + "/v1/status"
            func curl(_ certificate: String, _ key: String) throws -> Int32 {
                let child = try ChildProcess(
                    "curl",
                    ["-s", "-o", "/dev/null", "--fail", "--cacert", directory.caCertificatePath, "--cert", certificate,
                     "--key", key, "-H", "Authorization: Bearer \(client.configuration.token)", url])
                return child.wait().status
            }
            #expect(try curl(files.file("agent.pem"), files.file("agent-key.pem")) == 0)
            #expect(try curl(files.file("foreign.pem"), files.file("foreign-key.pem")) != 0)
        }
    }

    @Test func aTokenEnrollsOnlyItsHostAndIsCheckedBeforeTheCSR() async throws {
        try await withServer { client, _ in
            let token: EnrollmentTokenView = try await client.post("/v1/agents/tokens", EnrollmentTokenRequest(host: "kvm1"))
            // Another host's name is refused before the CSR is looked at: garbage CSR, yet the answer is about the
            // token, and the token stays usable by its own host.
            let wrongHost = await #expect(throws: ClientError.self) {
                let _: EnrollmentResponse = try await client.post(
                    "/v1/enroll", EnrollmentRequest(token: token.token, host: "kvm2", csr: "not a csr"))
            }
            #expect(wrongHost?.code == .unauthorized)
            #expect(wrongHost?.message.contains("issued for host 'kvm1', not 'kvm2'") == true, "\(String(describing: wrongHost))")
            let wrongHostGoodCSR = await #expect(throws: ClientError.self) {
                let _: EnrollmentResponse = try await client.post(
                    "/v1/enroll", EnrollmentRequest(token: token.token, host: "kvm2", csr: try Self.csr(host: "kvm2").pem))
            }
            #expect(wrongHostGoodCSR?.message.contains("issued for host 'kvm1'") == true)
            // An unknown token with a garbage CSR is a 401, not a CSR parse error.
            let unknown = await #expect(throws: ClientError.self) {
                let _: EnrollmentResponse = try await client.post(
                    "/v1/enroll", EnrollmentRequest(token: "0000", host: "kvm1", csr: "not a csr"))
            }
            #expect(unknown?.code == .unauthorized)
            #expect(unknown?.message.contains("unknown enrollment token") == true, "\(String(describing: unknown))")

            let agentsBefore: [AgentView] = try await client.get("/v1/agents")
            #expect(agentsBefore.isEmpty, "nothing was signed or recorded")
            let _: EnrollmentResponse = try await client.post(
                "/v1/enroll", EnrollmentRequest(token: token.token, host: "KVM1", csr: try Self.csr(host: "KVM1").pem))
        }
    }

    @Test func anEnrolledHostIsReplacedOnlyWithAReenrollmentTokenWhichRaisesAnAlert() async throws {
        try await withServer { client, _ in
            let first: EnrollmentTokenView = try await client.post("/v1/agents/tokens", EnrollmentTokenRequest(host: "kvm1"))
            let original: EnrollmentResponse = try await client.post(
                "/v1/enroll", EnrollmentRequest(token: first.token, host: "kvm1", csr: try Self.csr(host: "kvm1").pem))

            // An admin cannot make a plain token over an enrolled host, nor a re-enrollment token for a stranger.
            let plain = await #expect(throws: ClientError.self) {
                let _: EnrollmentTokenView = try await client.post("/v1/agents/tokens", EnrollmentTokenRequest(host: "kvm1"))
            }
            #expect(plain?.message.contains("--reenroll") == true, "\(String(describing: plain))")
            let stranger = await #expect(throws: ClientError.self) {
                let _: EnrollmentTokenView = try await client.post(
                    "/v1/agents/tokens", EnrollmentTokenRequest(host: "kvm9", reenroll: true))
            }
            #expect(stranger?.code == .notFound)

            // A token made for kvm2 cannot take over kvm1.
            let other: EnrollmentTokenView = try await client.post("/v1/agents/tokens", EnrollmentTokenRequest(host: "kvm2"))
            let takeover = await #expect(throws: ClientError.self) {
                let _: EnrollmentResponse = try await client.post(
                    "/v1/enroll", EnrollmentRequest(token: other.token, host: "kvm1", csr: try Self.csr(host: "kvm1").pem))
            }
            #expect(takeover?.message.contains("issued for host 'kvm2'") == true)
            var agents: [AgentView] = try await client.get("/v1/agents")
            #expect(agents.first { $0.host == "kvm1" }?.certificateFingerprint
                == (try CertificateAuthority.fingerprint(of: try Certificate(pemEncoded: original.certificate))))
            let quiet: [AlertView] = try await client.get("/v1/alerts")
            #expect(!quiet.contains { $0.kind == "agent-reenrolled" })

            let again: EnrollmentTokenView = try await client.post(
                "/v1/agents/tokens", EnrollmentTokenRequest(host: "kvm1", reenroll: true))
            #expect(again.reenroll == true)
            let replaced: EnrollmentResponse = try await client.post(
                "/v1/enroll", EnrollmentRequest(token: again.token, host: "kvm1", csr: try Self.csr(host: "kvm1").pem))
            agents = try await client.get("/v1/agents")
            #expect(agents.first { $0.host == "kvm1" }?.certificateFingerprint
                == (try CertificateAuthority.fingerprint(of: try Certificate(pemEncoded: replaced.certificate))))
            let alerts: [AlertView] = try await client.get("/v1/alerts")
            let alert = alerts.first { $0.kind == "agent-reenrolled" }
            #expect(alert?.subject == "agent kvm1")
            #expect(alert?.message.contains("bulwark agent remove kvm1") == true, "\(String(describing: alert))")
        }
    }
}
