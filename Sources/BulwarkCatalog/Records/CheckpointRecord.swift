import Foundation
import GRDB

/// A row of `checkpoint`: a libvirt checkpoint of a VM's change-tracking chain.
struct CheckpointRecord: CatalogRecord, PersistableRecord {
    static let databaseTableName = "checkpoint"
    var id: Int64?
    var vmUuid: String
    var name: String
    var host: String
    var xml: String
    var state: String
    var createdAt: Date
}
