import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import Crypto
import Foundation
import Hummingbird
import NIOCore
import X509

/// Enrollment: `GET /v1/ca` and `POST /v1/enroll`, the calls an agent makes without a certificate, and
/// `POST /v1/agents/tokens`, where an admin makes the one-time token that is the agent's credential.
///
/// A token reads `SECRET.CA-FINGERPRINT`: the agent fetches the CA, checks it against the fingerprint, and only then
/// sends the token over TLS that trusts that CA. The answer is a client certificate signed by the server's CA,
/// which every later agent call presents (mutual TLS).
struct EnrollmentRoutes {
    let catalog: Catalog
    let ca: CertificateAuthority

    func register(on router: Router<BulwarkRequestContext>) {
        // Public: the certificate is no secret, and the agent trusts it only if the token names its fingerprint.
        router.get("v1/ca") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/x-pem-file"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: try ca.certificatePEM())))
        }
        // The token needs the CA (its fingerprint goes into the token), so the admin route lives here, behind the
        // same admin check as the rest of the API.
        router.group("v1/agents").add(middleware: AdminAuthMiddleware(catalog: catalog)).post("tokens") {
            request, context in
            let body = try await request.decode(as: EnrollmentTokenRequest.self, context: context)
            guard Self.isValidHostName(body.host) else {
                throw APIError.invalid(
                    "--host '\(body.host)' is not a host name: use 1–253 characters of letters, digits, '-' and '.', as the agent's host name")
            }
            let lifetime = try body.expires.map { try EnrollmentTokenLifetime.parse($0) } ?? EnrollmentTokenLifetime.default
            let fingerprint = try CertificateAuthority.fingerprint(of: ca.certificate)
            let token = "\(ServerDataDirectory.randomToken()).\(fingerprint)"
            // The catalog keeps the digest of the whole token text, fingerprint included, as `/v1/enroll` hashes it.
            guard let digest = TokenDigest(SHA256.hash(data: Data(token.utf8))) else {
                throw APIError(.internalServerError, code: "internal", message: "could not hash the token")
            }
            let info = try await catalog.createEnrollmentToken(
                digest, host: body.host, reenroll: body.reenroll ?? false,
                expiresAt: Date().addingTimeInterval(TimeInterval(lifetime.seconds)))
            return EditedResponse(
                status: .created,
                response: EnrollmentTokenView(
                    token: token, expiresAt: info.expiresAt, host: info.host, reenroll: info.reenroll))
        }
        router.post("v1/enroll") { request, context in
            let body = try await request.decode(as: EnrollmentRequest.self, context: context)
            guard let digest = TokenDigest(SHA256.hash(data: Data(body.token.utf8))) else { throw APIError.unauthorized }
            guard Self.isValidHostName(body.host) else {
                throw APIError.invalid(
                    "host '\(body.host)' is not a host name: use 1–253 characters of letters, digits, '-' and '.'")
            }
            // The token is checked before the CSR is even parsed: whoever has no token for this host gets no
            // parser of ours to attack. Then sign (it checks the CSR), then spend the token and record the agent
            // in one transaction, which checks the token again: a bad CSR does not burn the token, and a used
            // token yields no certificate.
            try await Self.mapTokenErrors { try await catalog.checkEnrollmentToken(digest, host: body.host) }
            let certificate: Certificate
            do {
                certificate = try ca.issueAgentCertificate(csrPEM: body.csr, host: body.host)
            } catch let error as ServerError {
                throw error
            } catch {
                throw APIError.invalid("cannot issue a certificate for this request: \(error)")
            }
            let pem = try certificate.serializeAsPEM().pemString
            try await Self.mapTokenErrors {
                _ = try await catalog.enrollAgent(
                    AgentRegistration(
                        host: body.host, certificateFingerprint: try CertificateAuthority.fingerprint(of: certificate),
                        certificatePEM: pem),
                    token: digest)
            }
            context.logger.info("agent enrolled", metadata: ["host": "\(body.host)"])
            return EditedResponse(
                status: .created,
                response: EnrollmentResponse(certificate: pem, caCertificate: try ca.certificatePEM(), host: body.host))
        }
    }

    /// Runs a token check, answering an unknown token with a 401 that says how to get one.
    private static func mapTokenErrors(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as CatalogError where error.code == .unauthorized {
            throw APIError(
                .unauthorized, code: "unauthorized",
                message: "unknown enrollment token: make one with `bulwark agent token --host NAME`")
        }
    }

    /// A DNS-style host name: what a certificate's DNS name can carry.
    static func isValidHostName(_ host: String) -> Bool {
        guard (1...253).contains(host.utf8.count), !host.hasPrefix("-"), !host.hasPrefix(".") else { return false }
        return host.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == ".") }
    }
}
