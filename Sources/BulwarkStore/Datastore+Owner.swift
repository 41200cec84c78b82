public import Foundation

/// The server that writes a datastore, as its heartbeat in the datastore says.
public struct DatastoreOwner: Codable, Hashable, Sendable {
    /// The writing server's id (`bulwark status`).
    public var server: UUID
    /// When it last said so.
    public var heartbeat: Date
    /// How often it says so, in seconds.
    public var interval: Int

    public init(server: UUID, heartbeat: Date, interval: Int) {
        self.server = server
        self.heartbeat = heartbeat
        self.interval = interval
    }

    /// Whether the server may still be running at `now`: two of its intervals and five minutes have not passed
    /// since its last heartbeat.
    public func mayBeLive(at now: Date) -> Bool {
        now.timeIntervalSince(heartbeat) < Double(2 * interval + 300)
    }
}

/// Which server writes the datastore: each writes its heartbeat into `.owner` (the bucket's copy is the one that
/// counts for an S3 datastore), so that a second server does not attach a datastore the first still writes to and
/// collects chunks it does not know are in use.
extension Datastore {
    static let ownerName = ".owner"

    /// Records `owner` as the datastore's writer.
    public func recordOwner(_ owner: DatastoreOwner) throws(DatastoreError) {
        let bytes: [UInt8]
        do {
            bytes = try JSONCoding.encode(owner)
        } catch {
            throw DatastoreError(.invalidArgument, "cannot encode the owner of the datastore at \(root)", cause: error)
        }
        if let objectStore { _ = try objectStore.put(key: Self.ownerName, bytes: bytes, ifAbsent: false) }
        try FileSystem.writeAtomically(bytes, to: "\(root)/\(Self.ownerName)")
    }

    /// The datastore's writer as last recorded; nil when none was, or the record does not read.
    public func owner() throws(DatastoreError) -> DatastoreOwner? {
        let bytes = if let objectStore { try objectStore.get(key: Self.ownerName) } else {
            try FileSystem.read("\(root)/\(Self.ownerName)")
        }
        guard let bytes else { return nil }
        return try? JSONCoding.decode(DatastoreOwner.self, from: bytes)
    }
}
