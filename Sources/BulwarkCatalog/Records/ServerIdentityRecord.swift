import Foundation
import GRDB

/// A row of `server_identity`: the one row naming this server.
struct ServerIdentityRecord: CatalogRecord, PersistableRecord {
    static let databaseTableName = "server_identity"
    var singleton: Int = 1
    var serverId: String
    var createdAt: Date
}
