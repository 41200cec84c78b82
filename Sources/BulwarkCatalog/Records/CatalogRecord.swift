import GRDB

/// A row of one catalog table. Record types stay inside this module: the public API speaks in value types.
///
/// Records whose rowid the catalog needs after inserting are only `MutablePersistableRecord` (their `didInsert`
/// stores it); the others are also `PersistableRecord`, so they insert as temporaries.
///
/// Properties are spelled in camel case without acronyms (`vmUuid`, `datastoreId`) so GRDB's snake-case
/// conversion yields the column names exactly.
protocol CatalogRecord: Codable, FetchableRecord, MutablePersistableRecord, Sendable {}

extension CatalogRecord {
    static var databaseColumnDecodingStrategy: DatabaseColumnDecodingStrategy { .convertFromSnakeCase }
    static var databaseColumnEncodingStrategy: DatabaseColumnEncodingStrategy { .convertToSnakeCase }
}
