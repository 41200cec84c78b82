import Foundation
import GRDB

/// A row of `alert`.
struct AlertRecord: CatalogRecord, PersistableRecord {
    static let databaseTableName = "alert"
    var id: String
    var kind: String
    var severity: String
    var subject: String
    var message: String
    var raisedAt: Date
    var resolvedAt: Date?
}
