import Foundation
import GRDB

/// A row of `datastore`.
struct DatastoreRecord: CatalogRecord {
    static let databaseTableName = "datastore"
    var id: Int64?
    var name: String
    var path: String
    var chunkSize: Int
    var createdAt: Date
    /// ``DatastoreS3Settings`` as JSON; nil for a datastore that is its folder.
    var s3: String?
    /// Attached for restores only (see schema 7).
    var readOnly = false

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
