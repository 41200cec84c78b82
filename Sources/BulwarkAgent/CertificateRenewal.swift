import BulwarkAPI
import Crypto
public import Foundation
import SwiftASN1
import X509

/// The agent renews its client certificate (valid two years) itself, over the current one, before it expires: a
/// host that can no longer call in is backed up no more, and re-enrolling needs an admin.
public enum CertificateRenewal {
    /// How long before expiry the agent renews.
    public static let window: TimeInterval = 30 * 86_400

    /// Whether `identity`'s certificate expires within ``window`` of `now` (or cannot be read, so renewing is the
    /// way to a readable one).
    public static func isDue(_ identity: AgentIdentity, now: Date = Date()) -> Bool {
        guard let expiry = try? Certificate(pemEncoded: identity.certificatePEM).notValidAfter else { return true }
        return expiry.timeIntervalSince(now) < window
    }

    /// Asks the server for a certificate of a new key, checks that it is for that key and this host, and switches
    /// `server` to it; returns the new identity, which the caller saves. The old certificate stops working at once.
    public static func renew(over server: ServerConnection) async throws(AgentError) -> AgentIdentity {
        let identity = server.identity
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let csrPEM: String
        let keyPEM: String
        do {
            let csr = try CertificateSigningRequest(
                version: .v1, subject: try DistinguishedName { CommonName(identity.host) }, privateKey: key,
                attributes: CertificateSigningRequest.Attributes(), signatureAlgorithm: .ecdsaWithSHA256)
            csrPEM = try csr.serializeAsPEM().pemString
            keyPEM = try key.serializeAsPEM().pemString
        } catch {
            throw AgentError(.local, "cannot make a key and certificate signing request for '\(identity.host)'", cause: error)
        }
        guard
            let answer = try await server.json(
                .POST, "/v1/agent/certificate", body: AgentCertificateRenewal(csr: csrPEM), as: EnrollmentResponse.self)
        else {
            throw AgentError(.rejected, "the server answered a certificate renewal with nothing")
        }
        let issued: Certificate
        do {
            issued = try Certificate(pemEncoded: answer.certificate)
        } catch {
            throw AgentError(.rejected, "the server's renewed certificate is not a PEM certificate", cause: error)
        }
        guard issued.publicKey == key.publicKey, answer.host == identity.host, issued.notValidAfter > Date() else {
            throw AgentError(
                .rejected, "the server's renewed certificate is not for this host's new key (host '\(answer.host)'); keeping the current one")
        }
        let renewed = AgentIdentity(
            serverURL: identity.serverURL, host: identity.host, certificatePEM: answer.certificate, privateKeyPEM: keyPEM,
            caPEM: identity.caPEM)
        try server.replace(identity: renewed)
        return renewed
    }
}
