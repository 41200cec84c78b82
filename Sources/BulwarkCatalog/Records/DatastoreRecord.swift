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

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
