import Crypto
public import Foundation
import SwiftASN1
public import X509

/// The server's own certificate authority: made on first start, it signs the server's TLS certificate and, once
/// agents enroll, their client certificates.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    let privateKey: Certificate.PrivateKey

    /// Makes a new CA with a P-256 key, valid for 20 years.
    public static func generate(commonName: String = "Bulwark CA", now: Date = Date()) throws -> CertificateAuthority {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let name = try DistinguishedName { CommonName(commonName) }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(20 * 365 * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: key.publicKey)
            },
            issuerPrivateKey: key)
        return CertificateAuthority(certificate: certificate, privateKey: key)
    }

    /// Reads a CA from its PEM certificate and key.
    public init(certificatePEM: String, privateKeyPEM: String) throws {
        certificate = try Certificate(pemEncoded: certificatePEM)
        privateKey = try Certificate.PrivateKey(pemEncoded: privateKeyPEM)
        guard certificate.publicKey == privateKey.publicKey else {
            throw ServerError(.invalidConfiguration, "the CA key does not belong to the CA certificate")
        }
    }

    private init(certificate: Certificate, privateKey: Certificate.PrivateKey) {
        self.certificate = certificate
        self.privateKey = privateKey
    }

    public func certificatePEM() throws -> String { try certificate.serializeAsPEM().pemString }
    public func privateKeyPEM() throws -> String { try privateKey.serializeAsPEM().pemString }

    /// Issues a TLS server certificate for the given DNS names and IP addresses, with a fresh key, valid 2 years.
    public func issueServerCertificate(dnsNames: [String], ipAddresses: [String], now: Date = Date()) throws
        -> (certificate: Certificate, privateKey: Certificate.PrivateKey)
    {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        var names: [GeneralName] = dnsNames.map { .dnsName($0) }
        for address in ipAddresses {
            guard let bytes = Self.ipAddressBytes(address) else {
                throw ServerError(.invalidConfiguration, "'\(address)' is not an IPv4 or IPv6 address")
            }
            names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(2 * 365 * 86_400),
            issuer: self.certificate.subject,
            subject: try DistinguishedName { CommonName(dnsNames.first ?? ipAddresses.first ?? "bulwarkd") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
                AuthorityKeyIdentifier(keyIdentifier: try self.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: privateKey)
        return (certificate, key)
    }

    /// Signs an agent's certificate signing request: a client certificate (TLS client auth only) naming `host`,
    /// valid 2 years. Refuses a request whose signature does not match its key, so nobody gets a certificate for a
    /// key they do not hold.
    public func issueAgentCertificate(csrPEM: String, host: String, now: Date = Date()) throws -> Certificate {
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(pemEncoded: csrPEM)
        } catch {
            throw ServerError(.invalidRequest, "the certificate signing request is not a PEM CSR: \(error)")
        }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw ServerError(.invalidRequest, "the certificate signing request's signature does not match its key")
        }
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: csr.publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(2 * 365 * 86_400),
            issuer: certificate.subject, subject: try DistinguishedName { CommonName(host) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.clientAuth])
                SubjectAlternativeNames([.dnsName(host)])
                AuthorityKeyIdentifier(keyIdentifier: try self.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: privateKey)
    }

    /// The SHA-256 of a certificate's DER encoding in lower-case hex: how the catalog names an agent's certificate.
    public static func fingerprint(of certificate: Certificate) throws -> String {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return SHA256.hash(data: serializer.serializedBytes).map { String(format: "%02x", $0) }.joined()
    }

    /// The network-order bytes of an IPv4 or IPv6 address in text form.
    static func ipAddressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
