public import Foundation

/// Where a datastore's objects live: an S3-compatible endpoint, a bucket and a key prefix inside it, and how to talk
/// to it.
///
/// Addressing is path-style (`https://host:port/bucket/key`): Ceph RGW and MinIO need no DNS per bucket that way.
public struct S3Configuration: Sendable {
    /// `http://` or `https://` host and optional port, nothing else.
    public var endpoint: URL
    public var bucket: String
    /// The region signatures are made for; Ceph and MinIO accept `us-east-1` whatever their zone is called.
    public var region: String
    /// Put before every key (`bulwark/ds1/`); empty for the bucket's root. Keys the client lists come back without it.
    public var keyPrefix: String
    public var credentials: S3Credentials
    /// A PEM file of the CA to trust, and only it, for an `https` endpoint; nil trusts the system's CAs.
    public var caFile: String?
    /// How long one attempt of a request may take, connection and body included; a hanging gateway ends in
    /// ``S3Error/Code-swift.struct/timeout`` after it.
    public var requestTimeout: Duration
    public var connectTimeout: Duration
    /// Attempts per request, the first included, for failures worth retrying (5xx, SlowDown, lost connections).
    public var maxAttempts: Int

    /// Checks every value; see ``validate()``.
    public init(
        endpoint: URL, bucket: String, region: String = "us-east-1", keyPrefix: String = "", credentials: S3Credentials,
        caFile: String? = nil, requestTimeout: Duration = .seconds(120), connectTimeout: Duration = .seconds(10),
        maxAttempts: Int = 4
    ) throws(S3Error) {
        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        self.keyPrefix = keyPrefix
        self.credentials = credentials
        self.caFile = caFile
        self.requestTimeout = requestTimeout
        self.connectTimeout = connectTimeout
        self.maxAttempts = maxAttempts
        try validate()
    }

    /// Refuses values the client cannot work with, saying which and how to fix it.
    public func validate() throws(S3Error) {
        func invalid(_ message: String) -> S3Error { S3Error(.invalidConfiguration, message) }
        let scheme = endpoint.scheme?.lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw invalid("the S3 endpoint \(endpoint.absoluteString) must start with http:// or https://")
        }
        guard let host = endpoint.host, !host.isEmpty else {
            throw invalid("the S3 endpoint \(endpoint.absoluteString) has no host; write it as https://host:port")
        }
        guard endpoint.user == nil, endpoint.password == nil else {
            throw invalid("the S3 endpoint must not hold a user or password; put the keys in the credentials file")
        }
        guard endpoint.query == nil, endpoint.fragment == nil, endpoint.path.isEmpty || endpoint.path == "/" else {
            throw invalid(
                "the S3 endpoint \(endpoint.absoluteString) must be only scheme, host and port (the bucket goes in "
                    + "the bucket setting, the folder in the key prefix)")
        }
        if let problem = Self.bucketNameProblem(bucket) {
            throw invalid("the bucket name \"\(bucket)\" is not valid: \(problem)")
        }
        guard !region.isEmpty, region.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
            throw invalid("the region \"\(region)\" must be lowercase letters, digits and hyphens, like us-east-1")
        }
        guard !keyPrefix.hasPrefix("/") else {
            throw invalid("the key prefix \"\(keyPrefix)\" must not start with /; write it as folder/sub/")
        }
        guard keyPrefix.utf8.count <= 512, !keyPrefix.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
        else {
            throw invalid("the key prefix must be at most 512 bytes without control characters")
        }
        guard !keyPrefix.split(separator: "/", omittingEmptySubsequences: false).dropLast().contains(where: {
            $0.isEmpty || $0 == "." || $0 == ".."
        }) else {
            throw invalid("the key prefix \"\(keyPrefix)\" has an empty, . or .. folder; write it as folder/sub/")
        }
        guard requestTimeout > .zero, connectTimeout > .zero else {
            throw invalid("the request and connect timeouts must be positive")
        }
        guard (1...20).contains(maxAttempts) else {
            throw invalid("the number of attempts per request must be 1 to 20, not \(maxAttempts)")
        }
        if let caFile, scheme != "https" {
            throw invalid("a CA file (\(caFile)) is set but the endpoint is http://; use https:// or drop the CA file")
        }
    }

    /// Why `name` is not a valid bucket name (AWS's rules, which Ceph and MinIO follow), or nil when it is.
    static func bucketNameProblem(_ name: String) -> String? {
        guard (3...63).contains(name.utf8.count) else { return "it must be 3 to 63 characters long" }
        guard name.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2e || $0 == 0x2d })
        else {
            return "it may hold only lowercase letters, digits, dots and hyphens"
        }
        let alphanumeric: (Character) -> Bool = { $0.isLowercase || $0.isNumber }
        guard let first = name.first, let last = name.last, alphanumeric(first), alphanumeric(last) else {
            return "it must begin and end with a letter or digit"
        }
        guard !name.contains("..") else { return "it must not hold two dots in a row" }
        let parts = name.split(separator: ".")
        if parts.count == 4, parts.allSatisfy({ $0.allSatisfy(\.isNumber) }) { return "it must not look like an IP address" }
        if name.hasPrefix("xn--") { return "it must not start with xn--" }
        return nil
    }

    /// The `Host` header: what the signature covers, so it must be exactly what goes on the wire.
    var hostHeader: String {
        var host = endpoint.host ?? ""
        if host.contains(":") { host = "[\(host)]" }
        if let port = endpoint.port { return "\(host):\(port)" }
        return host
    }

    /// `scheme://host[:port]`, without a trailing slash.
    var origin: String {
        "\(endpoint.scheme?.lowercased() ?? "https")://\(hostHeader)"
    }
}
