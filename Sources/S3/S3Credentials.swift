/// An S3 access key and its secret.
///
/// The description shows the access key only: credentials end up in logs through string interpolation.
public struct S3Credentials: Sendable, Hashable, CustomStringConvertible {
    public var accessKey: String
    public var secretKey: String

    public init(accessKey: String, secretKey: String) {
        self.accessKey = accessKey
        self.secretKey = secretKey
    }

    public var description: String { "S3Credentials(accessKey: \(accessKey), secretKey: <redacted>)" }
}
