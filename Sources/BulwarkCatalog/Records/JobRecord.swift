import Foundation
import GRDB

/// A row of `job`.
struct JobRecord: CatalogRecord, PersistableRecord {
    static let databaseTableName = "job"
    var id: String
    var kind: String
    var subject: String
    var vmUuid: String?
    var groupId: Int64?
    var datastoreId: Int64?
    var state: String
    var phase: String?
    var createdAt: Date
    var startedAt: Date?
    var endedAt: Date?
    var error: String?
    var progress: Double
    // Agent tasks (schema 2); defaults for jobs of the server.
    var host: String? = nil
    var parameters: String? = nil
    var cancelRequested: Bool = false
    var bytesTotal: Int64? = nil
    var bytesScanned: Int64? = nil
    var bytesSent: Int64? = nil
    var recoveryPointId: String? = nil
    var heartbeatAt: Date? = nil
    var acknowledged: Bool = false
    var startAt: Date? = nil
    // Retries (schema 5).
    var attempt: Int = 1
    var retryOf: String? = nil
    var targetHost: String? = nil
}
