import GRDB

/// A row of `vm_disk`.
struct VMDiskRecord: CatalogRecord, PersistableRecord {
    static let databaseTableName = "vm_disk"
    var vmUuid: String
    var target: String
    var format: String
    var capacityBytes: Int64
    var path: String?
}
