import Foundation
import GRDB

/// A row of `group_member`: a VM in a group (in one group at most).
struct GroupMemberRecord: CatalogRecord, PersistableRecord {
    static let databaseTableName = "group_member"
    var vmUuid: String
    var groupId: Int64
    var addedAt: Date
}
