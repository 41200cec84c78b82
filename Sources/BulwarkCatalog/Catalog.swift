import BulwarkCore
import Foundation
import GRDB

/// The server's catalog: one SQLite file (WAL mode, foreign keys on) holding everything Bulwark knows except the
/// backup data itself.
///
/// Every method is `async` and runs its SQLite work on GRDB's own dispatch queues (one writer, a pool of readers),
/// so callers never block Swift's cooperative threads. Each method is one transaction: it sees a consistent
/// catalog and its changes land all together or not at all. The public API takes and returns plain values; GRDB
/// stays an implementation detail.
public final class Catalog: Sendable {
    /// The newest schema version this build knows.
    public static var schemaVersion: Int { (try? SchemaMigration.bundled().last?.version) ?? 0 }

    /// The catalog file.
    public let path: String
    let pool: DatabasePool

    /// Opens (creating it if needed) and migrates the catalog at `path`, without blocking the caller's thread.
    ///
    /// Fails with ``CatalogError/Code-swift.struct/schemaTooNew`` when the file was written by a newer bulwarkd.
    public static func open(path: String) async throws -> Catalog {
        let migrations = try SchemaMigration.bundled()
        return try await withCheckedThrowingContinuation { continuation in
            // Opening a pool opens files and may migrate: keep that blocking work off the cooperative pool.
            DispatchQueue.global().async {
                continuation.resume(with: Result { try Catalog(path: path, migrations: migrations) })
            }
        }
    }

    /// Opens and migrates synchronously; for start-up code that is not async yet. Prefer ``open(path:)``.
    public convenience init(path: String) throws {
        try self.init(path: path, migrations: try SchemaMigration.bundled())
    }

    init(path: String, migrations: [SchemaMigration]) throws {
        var configuration = Configuration()
        configuration.label = "bulwark-catalog"
        configuration.foreignKeysEnabled = true
        // Another process (an admin's sqlite3, a backup of the file) may hold a lock for a moment.
        configuration.busyMode = .timeout(10)
        // WAL's default (NORMAL) can lose the last commits on a power cut: a recovery point whose row is gone while
        // its agent already dropped the checkpoint it was based on. A commit is a point; it must survive.
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        self.path = path
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    try Self.migrate(db, migrations: migrations, path: path)
                    return .commit
                }
            }
        } catch {
            throw Self.translate(error)
        }
    }

    /// Applies the migrations newer than the file's `user_version`, and records the new version.
    private static func migrate(_ db: Database, migrations: [SchemaMigration], path: String) throws {
        let current = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        let known = migrations.last?.version ?? 0
        guard current <= known else {
            throw CatalogError(
                .schemaTooNew,
                "catalog schema version \(current) is newer than this bulwarkd understands (\(known)); upgrade bulwarkd (catalog: \(path))")
        }
        for migration in migrations where migration.version > current {
            do {
                try db.execute(sql: migration.sql)
            } catch {
                throw CatalogError(
                    .corrupt, "schema migration \(migration.name) failed: \(error); the catalog is unchanged")
            }
            // PRAGMA takes no bound parameters; the version is an Int, so interpolating it is safe.
            try db.execute(sql: "PRAGMA user_version = \(migration.version)")
        }
        // A migration that rebuilds tables could leave dangling references; refuse to commit them.
        if try Row.fetchOne(db, sql: "PRAGMA foreign_key_check") != nil {
            throw CatalogError(.corrupt, "the catalog has broken references after migrating; restore it from a backup")
        }
    }

    /// The schema version recorded in the file.
    public func storedSchemaVersion() async throws -> Int {
        try await read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 }
    }

    // MARK: - Access

    /// Runs `body` in a read transaction on a reader connection.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw Self.translate(error)
        }
    }

    /// Runs `body` in a write transaction on the writer connection.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(body)
        } catch {
            throw Self.translate(error)
        }
    }

    /// Keeps GRDB's errors inside this module: callers see ``CatalogError`` only.
    static func translate(_ error: any Error) -> any Error {
        switch error {
        case is CatalogError, is CancellationError:
            return error
        case let error as ValidationError:
            return CatalogError(.invalid, error.description)
        case let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT:
            // The methods check rules first to say which value broke them; this is the backstop for races.
            return CatalogError(
                .conflict, "the change conflicts with other catalog data (\(error.message ?? "constraint failed")); look at the current state and try again")
        case let error as DatabaseError:
            return CatalogError(
                .storage, "the catalog database failed: \(error.message ?? "\(error.resultCode)"); check the disk holding the data directory")
        default:
            return CatalogError(.storage, "the catalog failed: \(error)")
        }
    }
}
