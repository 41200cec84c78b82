import BulwarkAPI
import BulwarkCatalog
import Crypto
import Foundation
import Hummingbird
import X509

/// `POST /v1/enroll`: the one call an agent makes without a certificate. The one-time token is its credential; the
/// answer is a client certificate signed by the server's CA, which every later agent call presents (mutual TLS).
struct EnrollmentRoutes {
    let catalog: Catalog
    let ca: CertificateAuthority

    func register(on router: Router<BulwarkRequestContext>) {
        router.post("v1/enroll") { request, context in
            let body = try await request.decode(as: EnrollmentRequest.self, context: context)
            guard let digest = TokenDigest(SHA256.hash(data: Data(body.token.utf8))) else { throw APIError.unauthorized }
            // Sign first (it checks the CSR), then spend the token and record the agent in one transaction: a bad
            // CSR does not burn the token, and a used token yields no certificate.
            guard Self.isValidHostName(body.host) else {
                throw APIError.invalid(
                    "host '\(body.host)' is not a host name: use 1–253 characters of letters, digits, '-' and '.'")
            }
            let certificate: Certificate
            do {
                certificate = try ca.issueAgentCertificate(csrPEM: body.csr, host: body.host)
            } catch let error as ServerError {
                throw error
            } catch {
                throw APIError.invalid("cannot issue a certificate for this request: \(error)")
            }
            let pem = try certificate.serializeAsPEM().pemString
            do {
                _ = try await catalog.enrollAgent(
                    AgentRegistration(
                        host: body.host, certificateFingerprint: try CertificateAuthority.fingerprint(of: certificate),
                        certificatePEM: pem),
                    token: digest)
            } catch let error as CatalogError where error.code == .unauthorized {
                throw APIError(.unauthorized, code: "unauthorized", message: "unknown enrollment token: make one with `bulwark agent token`")
            }
            context.logger.info("agent enrolled", metadata: ["host": "\(body.host)"])
            return EditedResponse(
                status: .created,
                response: EnrollmentResponse(certificate: pem, caCertificate: try ca.certificatePEM(), host: body.host))
        }
    }

    /// A DNS-style host name: what a certificate's DNS name can carry.
    static func isValidHostName(_ host: String) -> Bool {
        guard (1...253).contains(host.utf8.count), !host.hasPrefix("-"), !host.hasPrefix(".") else { return false }
        return host.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == ".") }
    }
}
