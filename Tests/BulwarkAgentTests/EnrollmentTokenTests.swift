import BulwarkAgent
import Testing

/// Parsing `SECRET.CA-FINGERPRINT` tokens: what is accepted, and errors that say what is wrong without echoing the
/// secret.
@Suite struct EnrollmentTokenTests {
    static let secret = "5847ea9ff01b032c1858e5b2ab20eb9f18099a85afdbcfbc18ad968f61445b5d"
    static let fingerprint = "b21d95f00bfbc80e50a7d2e34255f7822722ccf4baddd6a7351d64691efeb3d3"

    @Test func aFullTokenKeepsItsTextAndFingerprint() throws {
        let token = try EnrollmentToken(parsing: "  \(Self.secret).\(Self.fingerprint)\n")
        #expect(token.text == "\(Self.secret).\(Self.fingerprint)", "whitespace around a pasted token is dropped")
        #expect(token.caFingerprint == Self.fingerprint)
        #expect(token.matches(caFingerprint: Self.fingerprint))
        #expect(!token.matches(caFingerprint: String(Self.fingerprint.reversed())))
    }

    @Test func aFingerprintPrefixOfThirtyTwoDigitsIsEnough() throws {
        let token = try EnrollmentToken(parsing: "\(Self.secret).\(Self.fingerprint.prefix(32))")
        #expect(token.matches(caFingerprint: Self.fingerprint))
        #expect(!token.matches(caFingerprint: "0" + Self.fingerprint.dropFirst()))
    }

    @Test func upperCaseFingerprintsMatchButTheTextIsSentAsGiven() throws {
        let text = "\(Self.secret).\(Self.fingerprint.uppercased())"
        let token = try EnrollmentToken(parsing: text)
        #expect(token.text == text, "the server hashes the text as it printed it")
        #expect(token.matches(caFingerprint: Self.fingerprint))
    }

    @Test(arguments: [
        ("", "no CA fingerprint"),
        (secret, "no CA fingerprint"),
        ("\(secret).\(fingerprint).x", "2 '.'"),
        (".\(fingerprint)", "secret (before the '.') is empty"),
        ("se cret.\(fingerprint)", "not letters and digits"),
        ("\(secret).\(fingerprint.prefix(31))", "is not 32 to 64 hex digits"),
        ("\(secret).\(fingerprint)00", "is not 32 to 64 hex digits"),
        ("\(secret).\(fingerprint.dropLast())g", "is not 32 to 64 hex digits"),
    ])
    func malformedTokensAreRefused(_ text: String, _ expected: String) {
        let error = #expect(throws: AgentError.self) { try EnrollmentToken(parsing: text) }
        #expect(error?.code == .invalid)
        #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
        #expect(error?.message.contains("bulwark agent token") == true)
        #expect(error?.message.contains(Self.secret) == false, "the secret is not echoed")
    }
}
