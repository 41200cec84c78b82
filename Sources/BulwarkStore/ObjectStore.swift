/// Where a datastore keeps its durable copy when that is not its own folder: a bucket of an S3-compatible object
/// store, say.
///
/// Keys are paths relative to the datastore's folder (`.chunks/ab12/<digest>`, `<vm>/<point>/manifest.json`), so
/// the bucket holds the same layout as a local datastore. The datastore decides what is written when and in which
/// order; an object store only moves bytes. Every call blocks: run them on threads of your own, never on Swift's
/// cooperative pool. Failures are ``DatastoreError``s with code `backendUnavailable` (worth retrying later) or
/// `backendRefused` (settings to fix).
public protocol ObjectStore: Sendable, CustomStringConvertible {
    /// Stores one object. With `ifAbsent`, nothing is written when the key exists and the result is `false`.
    func put(key: String, bytes: [UInt8], ifAbsent: Bool) throws(DatastoreError) -> Bool
    /// Stores the contents of local files, several at a time; returns when all are stored or throws the first failure.
    func put(files: [(key: String, path: String)]) throws(DatastoreError)
    /// An object's bytes, or nil when there is no such object.
    func get(key: String) throws(DatastoreError) -> [UInt8]?
    /// Deletes objects; a key that is gone already is no error.
    func delete(keys: [String]) throws(DatastoreError)
    /// The keys under `prefix`, in key order.
    func list(prefix: String) throws(DatastoreError) -> [String]
    /// How many objects there are under `prefix` and how many bytes they hold.
    func usage(prefix: String) throws(DatastoreError) -> (objects: Int, bytes: UInt64)
}
