import Foundation
import GRDB

/// A row of `protection_group`; the policy is JSON.
struct GroupRecord: CatalogRecord {
    static let databaseTableName = "protection_group"
    var id: Int64?
    var name: String
    var datastoreId: Int64
    var policy: String
    var createdAt: Date
    var modifiedAt: Date

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
