/// An S3 failure, with a message that names the endpoint, bucket or key and says how to fix it.
///
/// Messages never hold the secret key, nor anything signed with it.
public struct S3Error: Error, CustomStringConvertible, Sendable {
    /// What kind of failure. Open set: new codes are added as static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }

        /// A configuration value breaks a rule (URL scheme, bucket name, key prefix, timeouts).
        public static let invalidConfiguration = Code("invalid-configuration")
        /// The credentials file is missing, unsafe (permissions, owner, symlink) or badly formatted.
        public static let credentialsFile = Code("credentials-file")
        /// The gateway does not know the access key or the signature does not match: the secret key is wrong.
        public static let invalidCredentials = Code("invalid-credentials")
        /// The credentials are valid but may not do this (bucket policy, another owner's bucket).
        public static let accessDenied = Code("access-denied")
        /// The bucket does not exist.
        public static let noSuchBucket = Code("no-such-bucket")
        /// The object does not exist.
        public static let noSuchKey = Code("no-such-key")
        /// A key or argument breaks a rule (empty key, `..` segment, too long).
        public static let invalidArgument = Code("invalid-argument")
        /// No connection: refused, no route, or the host name does not resolve.
        public static let unreachable = Code("unreachable")
        /// The TLS handshake failed: the gateway's certificate is not signed by the trusted CA, or names another host.
        public static let certificate = Code("certificate")
        /// The request did not finish before its deadline (a hanging gateway, a full OSD).
        public static let timeout = Code("timeout")
        /// The calling task was cancelled.
        public static let cancelled = Code("cancelled")
        /// The gateway's clock and ours differ by more than S3 allows (15 minutes).
        public static let clockSkew = Code("clock-skew")
        /// The gateway refused the request for another reason (4xx).
        public static let rejected = Code("rejected")
        /// The gateway failed (5xx, SlowDown) on every attempt.
        public static let server = Code("server")
        /// The gateway's answer could not be understood (bad XML, missing fields).
        public static let invalidResponse = Code("invalid-response")

        public var description: String { rawValue }
    }

    public var code: Code
    /// What went wrong, what it was about, and how to fix it.
    public var message: String
    /// The HTTP status of the gateway's answer, when there was one.
    public var status: Int?
    /// The S3 error code of the gateway's answer (`NoSuchBucket`, `SignatureDoesNotMatch`), when it sent one.
    public var s3Code: String?
    /// The error underneath, such as the connection or TLS error.
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, status: Int? = nil, s3Code: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.s3Code = s3Code
        self.cause = cause
    }

    public var description: String {
        cause.map { "\(message) (\($0))" } ?? message
    }
}
