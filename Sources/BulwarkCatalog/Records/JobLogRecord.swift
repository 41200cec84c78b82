import Foundation
import GRDB

/// A row of `job_log`.
struct JobLogRecord: CatalogRecord, PersistableRecord {
    static let databaseTableName = "job_log"
    var id: Int64?
    var jobId: String
    var time: Date
    var level: String
    var message: String
}
