/// Where an S3 datastore's durable copy lives, as the catalog keeps it: never the keys, only the file that holds
/// them on the server.
public struct DatastoreS3Settings: Hashable, Sendable, Codable {
    /// `http://` or `https://` host and port of the gateway.
    public var endpoint: String
    public var bucket: String
    public var region: String
    /// Put before every key; empty for the bucket's root.
    public var prefix: String
    /// A file of mode 0600 on the server with the access and secret keys.
    public var credentialsFile: String
    /// A PEM file of the CA that signed the gateway's certificate; nil trusts the system's CAs.
    public var caFile: String?
    /// Bytes of chunk contents the local cache may hold; nil keeps every chunk's contents.
    public var cacheSize: UInt64?

    public init(
        endpoint: String, bucket: String, region: String, prefix: String, credentialsFile: String, caFile: String?,
        cacheSize: UInt64?
    ) {
        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        self.prefix = prefix
        self.credentialsFile = credentialsFile
        self.caFile = caFile
        self.cacheSize = cacheSize
    }
}
