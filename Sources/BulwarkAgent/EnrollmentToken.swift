import Foundation

/// A one-time enrollment token as `bulwark agent token` prints it: `SECRET.CA-FINGERPRINT`.
///
/// The secret is what the server checks (it stores the SHA-256 of the whole token text); the fingerprint is the
/// SHA-256 of the server CA's DER encoding, in hex, or a prefix of it of at least 32 digits. The agent compares it
/// with the CA the server presents before it sends the token anywhere, so a token given to the wrong address, or
/// intercepted on the way, buys nothing (the same idea as kubeadm's discovery hash).
public struct EnrollmentToken: Sendable, Hashable {
    /// The token exactly as given: the server hashes the whole text, so it is sent unchanged.
    public let text: String
    /// The expected CA fingerprint, lower-case hex (32 to 64 digits).
    public let caFingerprint: String

    /// The shortest fingerprint prefix accepted: 128 bits, far beyond what anyone can make a CA collide with.
    public static let minimumFingerprintDigits = 32

    /// Parses a token; fails with `invalid`, saying what is wrong without echoing the secret.
    public init(parsing raw: String) throws(AgentError) {
        let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let hint = "give the token exactly as `bulwark agent token` printed it (SECRET.CA-FINGERPRINT)"
        guard parts.count == 2 else {
            throw AgentError(
                .invalid,
                parts.count == 1
                    ? "the enrollment token has no CA fingerprint (no '.'): it may come from an older server; \(hint)"
                    : "the enrollment token has \(parts.count - 1) '.' where one is expected: \(hint)")
        }
        let secret = parts[0]
        let fingerprint = parts[1].lowercased()
        guard !secret.isEmpty,
            secret.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || $0.isDigit) })
        else {
            throw AgentError(
                .invalid, "the enrollment token's secret (before the '.') is empty or not letters and digits: \(hint)")
        }
        guard (Self.minimumFingerprintDigits...64).contains(fingerprint.count),
            fingerprint.unicodeScalars.allSatisfy(\.isHexDigit)
        else {
            throw AgentError(
                .invalid,
                "the enrollment token's CA fingerprint '\(fingerprint)' is not \(Self.minimumFingerprintDigits) to 64 "
                    + "hex digits: \(hint)")
        }
        self.text = text
        self.caFingerprint = fingerprint
    }

    /// Whether `fingerprint` (a full SHA-256 in hex) is the one the token names.
    public func matches(caFingerprint fingerprint: String) -> Bool {
        fingerprint.lowercased().hasPrefix(caFingerprint)
    }
}

extension Unicode.Scalar {
    fileprivate var isDigit: Bool { ("0"..."9").contains(self) }
    fileprivate var isHexDigit: Bool { isDigit || ("a"..."f").contains(self) }
}
