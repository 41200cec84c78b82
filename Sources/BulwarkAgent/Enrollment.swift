import BulwarkAPI
import Crypto
public import Foundation
import SwiftASN1
import X509

/// Enrolls this host with a Bulwark server: trades a one-time token and a certificate signing request for a client
/// certificate, and saves the resulting ``AgentIdentity``.
///
/// Trust is anchored in the token, not in the network: the token names the SHA-256 of the server CA's certificate.
/// The agent fetches the CA without verifying anything (`GET /v1/ca`), refuses it unless its fingerprint is the one
/// the token names, and only then sends the token, over TLS that trusts exactly that CA.
public struct Enrollment: Sendable {
    public var serverURL: URL
    public var token: EnrollmentToken
    public var host: String
    public var stateDirectory: String
    /// Whether an identity already in the state directory may be replaced (`--force`).
    public var replacesExisting: Bool

    /// Checks the inputs before anything touches the network: a usable https URL, a well-formed token and host name.
    public init(
        server: String, token: String, host: String?, stateDirectory: String, replacesExisting: Bool = false
    ) throws(AgentError) {
        let trimmed = server.trimmingCharacters(in: .whitespaces)
        guard var components = URLComponents(string: trimmed), components.scheme?.lowercased() == "https",
            let serverHost = components.host, !serverHost.isEmpty
        else {
            throw AgentError(
                .invalid,
                "server '\(server)' is not an https:// URL such as https://backup1:9443: pass the address "
                    + "`bulwark agent token` printed")
        }
        guard components.query == nil, components.fragment == nil else {
            throw AgentError(.invalid, "server '\(server)' has a query or fragment: pass just https://HOST:PORT")
        }
        while components.path.hasSuffix("/") { components.path.removeLast() }
        guard let url = components.url else {
            throw AgentError(.invalid, "server '\(server)' is not a valid URL")
        }
        let name: String
        if let host {
            name = host
        } else if let local = Self.localHostName() {
            name = local
        } else {
            throw AgentError(.invalid, "cannot read this machine's host name: pass --name HOST")
        }
        guard Self.isValidHostName(name) else {
            throw AgentError(
                .invalid,
                "host name '\(name)' cannot name an agent: use 1–253 letters, digits, '-' and '.' (pass --name HOST)")
        }
        self.serverURL = url
        self.token = try EnrollmentToken(parsing: token)
        self.host = name
        self.stateDirectory = stateDirectory
        self.replacesExisting = replacesExisting
    }

    /// Enrolls and saves the identity; nothing is written unless the server issued a certificate that checks out.
    @discardableResult
    public func run() async throws(AgentError) -> AgentIdentity {
        try await runOffCooperativePool { () throws(AgentError) in try checkStateDirectory() }
        let ca = try await fetchTrustedCA()
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let csrPEM: String
        let keyPEM: String
        do {
            let csr = try CertificateSigningRequest(
                version: .v1, subject: try DistinguishedName { CommonName(host) }, privateKey: key,
                attributes: CertificateSigningRequest.Attributes(), signatureAlgorithm: .ecdsaWithSHA256)
            csrPEM = try csr.serializeAsPEM().pemString
            keyPEM = try key.serializeAsPEM().pemString
        } catch {
            throw AgentError(.local, "cannot make a key and certificate signing request for '\(host)'", cause: error)
        }
        let response = try await requestCertificate(csrPEM: csrPEM, trusting: ca)
        let certificate = try checkIssued(response, key: key, ca: ca)
        let identity = AgentIdentity(
            serverURL: serverURL, host: host, certificatePEM: certificate, privateKeyPEM: keyPEM, caPEM: ca.pem)
        let directory = stateDirectory
        try await runOffCooperativePool { () throws(AgentError) in try identity.save(to: directory) }
        return identity
    }

    /// Checks that the server issued a certificate for our key, for this host, signed by the pinned CA, and that it
    /// names the same CA; returns the certificate's PEM.
    func checkIssued(_ response: EnrollmentResponse, key: Certificate.PrivateKey, ca: TrustedCA) throws(AgentError)
        -> String
    {
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: response.certificate)
        } catch {
            throw AgentError(.rejected, "the server's answer does not hold a PEM certificate", cause: error)
        }
        let problem: String? =
            if certificate.publicKey != key.publicKey {
                "is not for the key this agent sent"
            } else if certificate.issuer != ca.certificate.subject
                || !ca.certificate.publicKey.isValidSignature(certificate.signature, for: certificate)
            {
                "is not signed by the CA the token names"
            } else if (try? TrustedCA(pem: response.caCertificate).fingerprint) != ca.fingerprint {
                "comes with a CA other than the one the token names"
            } else if response.host != host {
                "names host '\(response.host)' instead of '\(host)'"
            } else {
                nil
            }
        if let problem {
            throw AgentError(
                .untrustedServer, "the certificate the server at \(base) issued \(problem): nothing was saved")
        }
        do {
            return try certificate.serializeAsPEM().pemString
        } catch {
            throw AgentError(.rejected, "the server's certificate cannot be encoded again", cause: error)
        }
    }

    /// Refuses to replace an identity without `--force`, and makes sure the state directory can be written before
    /// the token is spent.
    func checkStateDirectory() throws(AgentError) {
        if AgentIdentity.exists(in: stateDirectory), !replacesExisting {
            let existing = (try? AgentIdentity.load(from: stateDirectory)).map {
                "with \($0.serverURL.absoluteString) as '\($0.host)'"
            }
            throw AgentError(
                .alreadyEnrolled,
                "this host is already enrolled \(existing ?? "(its identity is damaged)") in \(stateDirectory): pass "
                    + "--force to enroll again and replace that identity, or --state-dir for another one")
        }
        do {
            try FileManager.default.createDirectory(
                atPath: stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw AgentError(
                .invalid, "cannot create the state directory \(stateDirectory): run as root, or pass --state-dir",
                cause: error)
        }
        guard access(stateDirectory, W_OK | X_OK) == 0 else {
            throw AgentError(
                .invalid, "the state directory \(stateDirectory) is not writable: run as root, or pass --state-dir")
        }
    }

    /// Whether `host` can name an agent: what a certificate's DNS name carries, and what the server accepts.
    public static func isValidHostName(_ host: String) -> Bool {
        guard (1...253).contains(host.utf8.count), !host.hasPrefix("-"), !host.hasPrefix(".") else { return false }
        return host.unicodeScalars.allSatisfy {
            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == ".")
        }
    }

    /// This machine's host name, lower-cased (DNS names are case-insensitive; the server compares them exactly).
    public static func localHostName() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? nil : name.lowercased()
    }
}

extension AgentError.Code {
    /// The server is not the one the token names (its CA's fingerprint differs, or its certificate does not fit).
    public static let untrustedServer = AgentError.Code("untrusted-server")
    /// The state directory already holds an identity and `--force` was not given.
    public static let alreadyEnrolled = AgentError.Code("already-enrolled")
}

/// A CA certificate the agent decided to trust, with the PEM it saves.
struct TrustedCA {
    var certificate: Certificate
    var pem: String
    var fingerprint: String

    init(pem text: String) throws {
        certificate = try Certificate(pemEncoded: text)
        pem = try certificate.serializeAsPEM().pemString
        fingerprint = try Self.fingerprint(of: certificate)
    }

    /// SHA-256 of the certificate's DER encoding, lower-case hex: what `bulwark agent token` puts in the token.
    static func fingerprint(of certificate: Certificate) throws -> String {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return SHA256.hash(data: serializer.serializedBytes).map { String(format: "%02x", $0) }.joined()
    }
}
