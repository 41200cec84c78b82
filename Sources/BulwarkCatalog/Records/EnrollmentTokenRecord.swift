import Foundation
import GRDB

/// A row of `enrollment_token`: the SHA-256 of a single-use token, the host it is for, its expiry and its use.
struct EnrollmentTokenRecord: CatalogRecord, PersistableRecord {
    static let databaseTableName = "enrollment_token"
    var id: Int64?
    var digest: Data
    var createdAt: Date
    var expiresAt: Date
    var usedAt: Date?
    var usedByHost: String?
    /// The one host name it enrolls; nil for tokens made before schema 6, which enroll nothing.
    var host: String?
    /// Whether it may replace the certificate of `host` when that host is enrolled already.
    var reenroll: Bool
}
