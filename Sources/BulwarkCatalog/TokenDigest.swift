/// The SHA-256 digest of a secret token: what the catalog stores and looks up instead of the token.
///
/// The catalog does no hashing itself: the server hashes tokens with swift-crypto (which this module does not link)
/// and passes digests, so a token never reaches the catalog file.
public struct TokenDigest: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Fails unless `bytes` holds exactly 32 bytes.
    public init?(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        guard array.count == 32 else { return nil }
        self.bytes = array
    }

    /// Compares without stopping at the first difference, so timing says nothing about how much matched.
    func matches(_ other: [UInt8]) -> Bool {
        guard other.count == bytes.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(bytes, other) { difference |= a ^ b }
        return difference == 0
    }

    /// A short prefix for logs; never enough to matter.
    public var description: String {
        bytes.prefix(4).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + "…"
    }
}
