import Crypto
import Foundation

/// Checks admin tokens against the SHA-256 of the known ones, in constant time.
struct AdminTokenVerifier: Sendable {
    private let digests: [[UInt8]]

    init(tokens: [String]) {
        digests = tokens.map { Array(SHA256.hash(data: Data($0.utf8))) }
    }

    func verify(_ token: String) -> Bool {
        let candidate = Array(SHA256.hash(data: Data(token.utf8)))
        // Compare against every digest without stopping early, so timing says nothing about which part matched.
        var matched = false
        for digest in digests where constantTimeEqual(candidate, digest) { matched = true }
        return matched
    }

    private func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
