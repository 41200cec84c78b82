import Foundation
import GRDB

/// A row of `admin_token`: the SHA-256 of an admin token, never the token.
struct AdminTokenRecord: CatalogRecord, PersistableRecord {
    static let databaseTableName = "admin_token"
    var id: Int64?
    var digest: Data
    var label: String
    var createdAt: Date
}
