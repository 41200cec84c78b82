import Foundation
import GRDB

/// A row of `vm`: a VM as its host last reported it.
struct VMRecord: CatalogRecord, PersistableRecord {
    static let databaseTableName = "vm"
    var uuid: String
    var hostId: Int64?
    var name: String
    var state: String
    var guestAgentAnswering: Bool
    var lastReportedAt: Date
}
