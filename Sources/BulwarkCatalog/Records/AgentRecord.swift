import Foundation
import GRDB

/// A row of `agent`: an enrolled host and its client certificate.
struct AgentRecord: CatalogRecord {
    static let databaseTableName = "agent"
    var id: Int64?
    var host: String
    var certificateFingerprint: String
    var certificatePem: String
    var enrolledAt: Date
    var lastSeenAt: Date?

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
