public import BulwarkCore
public import Foundation
import GRDB

extension Catalog {
    /// Records a datastore. Refuses a taken name, a taken path, and a path inside another datastore or holding one
    /// (chunks would be counted twice and garbage collection of one would delete the other's data).
    ///
    /// The caller checks that the folder exists and is writable, and resolves symbolic links first.
    @discardableResult
    public func addDatastore(
        name: ResourceName, path: AbsolutePath, chunkSize: ChunkSize = .default, s3: DatastoreS3Settings? = nil,
        now: Date = Date()
    ) async throws -> DatastoreInfo {
        let settings = try s3.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        return try await write { db in
            try Self.checkNewDatastore(db, name: name, path: path, s3: s3)
            var record = DatastoreRecord(
                name: name.rawValue, path: path.path, chunkSize: chunkSize.bytes, createdAt: now, s3: settings)
            try record.insert(db)
            return DatastoreInfo(name: name, path: path, chunkSize: chunkSize, createdAt: now, s3: s3)
        }
    }

    /// Refuses a taken name, a taken path, a path nesting with another datastore's, and S3 keys another datastore
    /// uses.
    static func checkNewDatastore(
        _ db: Database, name: ResourceName, path: AbsolutePath, s3: DatastoreS3Settings?
    ) throws {
        if let existing = try DatastoreRecord.fetchOne(
            db, sql: "SELECT * FROM datastore WHERE name = ?", arguments: [name.rawValue])
        {
            throw CatalogError(
                .alreadyExists,
                "a datastore named '\(existing.name)' already exists (at \(existing.path)); choose another name")
        }
        for other in try DatastoreRecord.fetchAll(db) {
            let otherPath = try AbsolutePath(parsing: other.path)
            if otherPath == path {
                throw CatalogError(
                    .alreadyExists,
                    "datastore '\(other.name)' already uses \(path); choose another folder")
            }
            if otherPath.contains(path) || path.contains(otherPath) {
                throw CatalogError(
                    .conflict,
                    "\(path) is \(otherPath.contains(path) ? "inside" : "a parent of") datastore '\(other.name)' (\(otherPath)); datastores must not nest: choose a separate folder")
            }
        }
        if let s3 {
            for other in try DatastoreRecord.fetchAll(db) {
                guard let json = other.s3, let theirs = try? JSONDecoder().decode(DatastoreS3Settings.self, from: Data(json.utf8))
                else { continue }
                if theirs.endpoint == s3.endpoint, theirs.bucket == s3.bucket,
                    theirs.prefix.hasPrefix(s3.prefix) || s3.prefix.hasPrefix(theirs.prefix)
                {
                    throw CatalogError(
                        .conflict,
                        "datastore '\(other.name)' already keeps its objects in bucket \(s3.bucket) at \(s3.endpoint) under the prefix '\(theirs.prefix)'; datastores must not share keys: choose another bucket or a --prefix apart from it")
                }
            }
        }
    }

    /// Records a datastore that exists already, with the VMs and points its manifests describe: the catalog of a
    /// server rebuilt after losing its data directory. One transaction: all of it or nothing.
    ///
    /// VMs the catalog does not know are added without a host (the agent that reports them next takes them); points
    /// whose id the catalog knows already are refused.
    @discardableResult
    public func attachDatastore(
        name: ResourceName, path: AbsolutePath, chunkSize: ChunkSize, s3: DatastoreS3Settings? = nil,
        readOnly: Bool = false, vms: [(uuid: UUID, name: String)], points: [NewRecoveryPoint], now: Date = Date()
    ) async throws -> DatastoreInfo {
        let settings = try s3.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        return try await write { db in
            try Self.checkNewDatastore(db, name: name, path: path, s3: s3)
            var record = DatastoreRecord(
                name: name.rawValue, path: path.path, chunkSize: chunkSize.bytes, createdAt: now, s3: settings,
                readOnly: readOnly)
            try record.insert(db)
            for vm in vms {
                try db.execute(
                    sql: """
                        INSERT INTO vm (uuid, host_id, name, state, guest_agent_answering, last_reported_at)
                        VALUES (?, NULL, ?, ?, 0, ?) ON CONFLICT (uuid) DO NOTHING
                        """,
                    arguments: [vm.uuid.catalogText, vm.name, VMState.unknown.rawValue, now])
            }
            for point in points { _ = try Self.insertRecoveryPoint(db, point) }
            return try Self.datastoreInfo(db, record)
        }
    }

    /// Every datastore, by name.
    public func datastores() async throws -> [DatastoreInfo] {
        try await read { db in
            try DatastoreRecord.fetchAll(db, sql: "SELECT * FROM datastore ORDER BY name").map {
                try Self.datastoreInfo(db, $0)
            }
        }
    }

    /// The datastore named `name`.
    public func datastore(named name: ResourceName) async throws -> DatastoreInfo {
        try await read { db in try Self.datastoreInfo(db, try Self.datastoreRecord(db, named: name)) }
    }

    /// Forgets a datastore. Refuses while a group uses it or recovery points live in it; its files stay on disk.
    public func removeDatastore(named name: ResourceName) async throws {
        try await write { db in
            let record = try Self.datastoreRecord(db, named: name)
            let groups = try String.fetchAll(
                db, sql: "SELECT name FROM protection_group WHERE datastore_id = ? ORDER BY name",
                arguments: [record.id])
            guard groups.isEmpty else {
                throw CatalogError(
                    .conflict,
                    "datastore '\(record.name)' is used by protection group\(groups.count == 1 ? "" : "s") \(groups.joined(separator: ", ")); delete \(groups.count == 1 ? "that group" : "those groups") first",
                    candidates: groups)
            }
            let points = try Int.fetchOne(
                db, sql: "SELECT count(*) FROM recovery_point WHERE datastore_id = ?", arguments: [record.id]) ?? 0
            guard points == 0 else {
                throw CatalogError(
                    .conflict,
                    "datastore '\(record.name)' holds \(points) recovery point\(points == 1 ? "" : "s"); delete them (group delete --delete-data) before removing it")
            }
            try record.delete(db)
        }
    }

    static func datastoreInfo(_ db: Database, _ record: DatastoreRecord) throws -> DatastoreInfo {
        let groups = try String.fetchAll(
            db, sql: "SELECT name FROM protection_group WHERE datastore_id = ? ORDER BY name", arguments: [record.id])
        let points = try Int.fetchOne(
            db, sql: "SELECT count(*) FROM recovery_point WHERE datastore_id = ?", arguments: [record.id]) ?? 0
        do {
            return DatastoreInfo(
                name: try ResourceName(stored: record.name), path: try AbsolutePath(parsing: record.path),
                chunkSize: try ChunkSize(bytes: record.chunkSize), createdAt: record.createdAt,
                groups: try groups.map { try ResourceName(stored: $0) }, recoveryPointCount: points,
                s3: try record.s3.map { try JSONDecoder().decode(DatastoreS3Settings.self, from: Data($0.utf8)) },
                readOnly: record.readOnly)
        } catch let error as ValidationError {
            throw CatalogError(.corrupt, "datastore '\(record.name)' has an invalid record (\(error)); restore the catalog")
        } catch is DecodingError {
            throw CatalogError(.corrupt, "datastore '\(record.name)' has unreadable S3 settings; restore the catalog")
        }
    }
}
