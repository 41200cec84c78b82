/// An object's key, size and ETag, as a listing or HEAD gives them.
public struct S3Object: Sendable, Hashable {
    public var key: String
    public var size: Int64
    /// The ETag without its quotes (the MD5 of the body for single-part uploads); nil when the gateway sent none.
    public var etag: String?

    public init(key: String, size: Int64, etag: String?) {
        self.key = key
        self.size = size
        self.etag = etag
    }

    static func unquote(_ etag: String) -> String {
        var etag = etag
        if etag.hasPrefix("\""), etag.hasSuffix("\""), etag.count >= 2 { etag = String(etag.dropFirst().dropLast()) }
        return etag
    }
}

/// How a PUT ended.
public enum S3PutResult: Sendable, Hashable {
    /// The object was written; its ETag, when the gateway sent one.
    case stored(etag: String?)
    /// `ifNoneMatch` was set and the key existed: nothing was written.
    case alreadyExists
}

/// A key a multi-object delete did not delete, and why.
public struct S3DeleteFailure: Sendable, Hashable {
    public var key: String
    /// The S3 error code (`AccessDenied`, `InternalError`).
    public var code: String
    public var message: String

    public init(key: String, code: String, message: String) {
        self.key = key
        self.code = code
        self.message = message
    }
}
