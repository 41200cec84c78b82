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
            let token: EnrollmentTokenView = try await client.post("/v1/agents/tokens", EnrollmentTokenRequest(expires: "10m"))
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
            let token: EnrollmentTokenView = try await client.post("/v1/agents/tokens", EnrollmentTokenRequest())
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
}
