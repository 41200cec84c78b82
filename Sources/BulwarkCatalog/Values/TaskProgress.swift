/// How far a sync is, in bytes, as its agent last reported.
public struct TaskProgress: Hashable, Sendable, Codable {
    /// Bytes the sync will read, once known.
    public var bytesTotal: Int64
    /// Bytes read and hashed so far.
    public var bytesScanned: Int64
    /// Bytes of chunk data sent so far.
    public var bytesSent: Int64

    public init(bytesTotal: Int64, bytesScanned: Int64, bytesSent: Int64) {
        self.bytesTotal = bytesTotal
        self.bytesScanned = bytesScanned
        self.bytesSent = bytesSent
    }

    /// Scanned over total, 0 to 1; 0 while the total is unknown.
    public var fraction: Double {
        bytesTotal > 0 ? min(1, max(0, Double(bytesScanned) / Double(bytesTotal))) : 0
    }
}
