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

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
