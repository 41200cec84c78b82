import Foundation
import GRDB

/// A row of `enrollment_token`: the SHA-256 of a single-use token, its expiry and its use.
struct EnrollmentTokenRecord: CatalogRecord, PersistableRecord {
    static let databaseTableName = "enrollment_token"
    var id: Int64?
    var digest: Data
    var createdAt: Date
    var expiresAt: Date
    var usedAt: Date?
    var usedByHost: String?
}
