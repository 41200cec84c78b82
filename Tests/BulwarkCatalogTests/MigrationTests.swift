@testable import BulwarkCatalog
import BulwarkCore
import Foundation
import GRDB
import Testing
import TestSupport

@Suite struct MigrationTests {
    @Test func freshFileIsMigratedInWALModeWithForeignKeys() async throws {
        try await withCatalog { catalog, _ in
            #expect(Catalog.schemaVersion >= 1)
            #expect(try await catalog.storedSchemaVersion() == Catalog.schemaVersion)
            let (journal, foreignKeys, tables) = try await catalog.pool.read { db in
                (
                    try String.fetchOne(db, sql: "PRAGMA journal_mode"),
                    try Int.fetchOne(db, sql: "PRAGMA foreign_keys"),
                    try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                )
            }
            #expect(journal == "wal")
            #expect(foreignKeys == 1)
            for table in ["server_identity", "admin_token", "datastore", "agent", "enrollment_token", "vm", "vm_disk",
                          "protection_group", "group_member", "checkpoint", "recovery_point", "job", "job_log", "alert"] {
                #expect(tables.contains(table), "missing table \(table)")
            }
        }
    }

    @Test func reopeningIsIdempotentAndKeepsData() async throws {
        let directory = try TemporaryDirectory("bulwark-catalog")
        defer { directory.cleanUp() }
        let file = directory.file("catalog.sqlite")
        let identity: ServerIdentity
        do {
            let catalog = try await Catalog.open(path: file)
            identity = try await catalog.serverIdentity(now: t0)
            _ = try await catalog.addDatastore(name: name("main"), path: path("/srv/main"), now: t0)
        }
        for _ in 0..<3 {
            let catalog = try Catalog(path: file)
            #expect(try await catalog.storedSchemaVersion() == Catalog.schemaVersion)
            #expect(try await catalog.serverIdentity() == identity)
            #expect(try await catalog.datastores().map(\.name) == [name("main")])
        }
    }

    @Test func refusesACatalogFromANewerBulwarkd() async throws {
        let directory = try TemporaryDirectory("bulwark-catalog")
        defer { directory.cleanUp() }
        let file = directory.file("catalog.sqlite")
        let future = SchemaMigration(version: 4242, name: "4242-future.sql", sql: "CREATE TABLE future (x);")
        _ = try Catalog(path: file, migrations: try SchemaMigration.bundled() + [future])
        await expectCatalogError(
            .schemaTooNew,
            "catalog schema version 4242 is newer than this bulwarkd understands (\(Catalog.schemaVersion)); upgrade bulwarkd"
        ) {
            try await Catalog.open(path: file)
        }
        // Refusing must not have touched the file.
        let again = try Catalog(path: file, migrations: try SchemaMigration.bundled() + [future])
        #expect(try await again.storedSchemaVersion() == 4242)
    }

    @Test func appliesOnlyNewerMigrationsAndKeepsData() async throws {
        let directory = try TemporaryDirectory("bulwark-catalog")
        defer { directory.cleanUp() }
        let file = directory.file("catalog.sqlite")
        let bundled = try SchemaMigration.bundled()
        do {
            let catalog = try Catalog(path: file, migrations: bundled)
            _ = try await catalog.addDatastore(name: name("main"), path: path("/srv/main"), now: t0)
        }
        let next = SchemaMigration(
            version: bundled.count + 1, name: "next.sql", sql: "ALTER TABLE datastore ADD COLUMN note TEXT;")
        let upgraded = try Catalog(path: file, migrations: bundled + [next])
        #expect(try await upgraded.storedSchemaVersion() == bundled.count + 1)
        #expect(try await upgraded.datastores().count == 1)
        let columns = try await upgraded.pool.read { db in try db.columns(in: "datastore").map(\.name) }
        #expect(columns.contains("note"))
    }

    @Test func aFailingMigrationChangesNothing() async throws {
        let directory = try TemporaryDirectory("bulwark-catalog")
        defer { directory.cleanUp() }
        let file = directory.file("catalog.sqlite")
        let bundled = try SchemaMigration.bundled()
        _ = try Catalog(path: file, migrations: bundled)
        let good = SchemaMigration(version: bundled.count + 1, name: "good.sql", sql: "CREATE TABLE extra (x);")
        let bad = SchemaMigration(version: bundled.count + 2, name: "bad.sql", sql: "CREATE TABLE broken (;")
        await expectCatalogError(.corrupt, "bad.sql") {
            try Catalog(path: file, migrations: bundled + [good, bad])
        }
        let catalog = try Catalog(path: file, migrations: bundled)
        #expect(try await catalog.storedSchemaVersion() == bundled.count)
        #expect(try await catalog.pool.read { db in try db.tableExists("extra") } == false)
    }

    @Test func bundledMigrationsAreNumberedWithoutGaps() throws {
        let migrations = try SchemaMigration.bundled()
        #expect(migrations.map(\.version) == Array(1...migrations.count))
        #expect(migrations.map(\.name) == ["0001-initial.sql", "0002-agent-tasks.sql", "0003-task-start.sql", "0004-schedule.sql", "0005-retries-verification.sql", "0006-trust-boundaries.sql", "0007-s3-datastores.sql"])
    }

    @Test func versions2And3AddTheAgentTaskColumnsToJobs() async throws {
        try await withCatalog { catalog, _ in
            #expect(try await catalog.storedSchemaVersion() == Catalog.schemaVersion)
            let columns = try await catalog.pool.read { db in try db.columns(in: "job").map(\.name) }
            for column in ["host", "parameters", "cancel_requested", "bytes_total", "bytes_scanned", "bytes_sent",
                           "recovery_point_id", "heartbeat_at", "acknowledged", "start_at", "attempt", "retry_of"] {
                #expect(columns.contains(column), "job lacks \(column)")
            }
        }
    }

    /// Version 7: a datastore made before S3 datastores existed stays a local one; S3 settings must be JSON, and
    /// the catalog refuses a second datastore on the same bucket keys.
    @Test func version7KeepsOldDatastoresLocalAndRecordsS3Settings() async throws {
        let directory = try TemporaryDirectory("bulwark-catalog")
        defer { directory.cleanUp() }
        let file = directory.file("catalog.sqlite")
        let bundled = try SchemaMigration.bundled()
        do {
            let old = try Catalog(path: file, migrations: Array(bundled.prefix(6)))
            try await old.pool.write { db in
                try db.execute(
                    sql: "INSERT INTO datastore (name, path, chunk_size, created_at) VALUES ('main', '/srv/main', 4194304, ?)",
                    arguments: [t0])
            }
        }
        let catalog = try Catalog(path: file, migrations: bundled)
        #expect(try await catalog.datastore(named: ResourceName("main")).s3 == nil)
        await #expect(throws: DatabaseError.self) {
            try await catalog.pool.write { db in
                try db.execute(sql: "UPDATE datastore SET s3 = 'not json' WHERE name = 'main'")
            }
        }
        let settings = DatastoreS3Settings(
            endpoint: "https://rgw:7480", bucket: "backups", region: "us-east-1", prefix: "site-a/",
            credentialsFile: "/etc/bulwark/s3.keys", caFile: nil, cacheSize: 1 << 30)
        let offsite = try await catalog.addDatastore(
            name: ResourceName("offsite"), path: AbsolutePath(parsing: "/srv/cache/offsite"), s3: settings)
        #expect(offsite.s3 == settings)
        #expect(try await catalog.datastore(named: ResourceName("offsite")).s3 == settings)
        var nested = settings
        nested.prefix = "site-a/inner/"
        await expectCatalogError(.conflict, "must not share keys") {
            try await catalog.addDatastore(
                name: ResourceName("again"), path: AbsolutePath(parsing: "/srv/cache/again"), s3: nested)
        }
    }

    @Test func aVersion1CatalogKeepsItsJobsWhenMigrated() async throws {
        let directory = try TemporaryDirectory("bulwark-catalog")
        defer { directory.cleanUp() }
        let file = directory.file("catalog.sqlite")
        let bundled = try SchemaMigration.bundled()
        let id = JobID.generate(at: t0)
        do {
            let old = try Catalog(path: file, migrations: Array(bundled.prefix(1)))
            // Written as version 1 wrote jobs: the record type of this build knows columns version 1 lacks.
            try await old.pool.write { db in
                try db.execute(
                    sql: "INSERT INTO job (id, kind, subject, state, created_at) VALUES (?, 'verify', 'datastore main', 'queued', ?)",
                    arguments: [id.description, t0])
            }
        }
        let catalog = try Catalog(path: file, migrations: bundled)
        let job = try await catalog.job(id: id).job
        #expect(job.kind == .verify && job.state == .queued && job.host == nil && job.bytes == nil && !job.cancelRequested)
        await expectCatalogError(.notFound, "no agent task") { try await catalog.task(id: id) }
    }

    @Test func foreignKeysAreEnforced() async throws {
        try await withCatalog { catalog, _ in
            await #expect(throws: DatabaseError.self) {
                try await catalog.pool.write { db in
                    try db.execute(sql: """
                        INSERT INTO protection_group (name, datastore_id, policy, created_at, modified_at)
                        VALUES ('gold', 99, '{}', '2026-01-01', '2026-01-01')
                        """)
                }
            }
            await #expect(throws: DatabaseError.self) {
                try await catalog.pool.write { db in
                    try db.execute(sql: "INSERT INTO vm_disk (vm_uuid, target, format, capacity_bytes) VALUES ('nope', 'vda', 'raw', 1)")
                }
            }
            // A VM with recovery points cannot be deleted behind the catalog's back.
            _ = try await catalog.addDatastore(name: name("main"), path: path("/srv/main"), now: t0)
            try await addHost(catalog, "kvm1")
            let vm = reported("web1")
            try await catalog.replaceInventory(host: "kvm1", vms: [vm], now: t0)
            try await catalog.insertRecoveryPoint(NewRecoveryPoint(
                vmUUID: vm.uuid, group: nil, datastore: name("main"), createdAt: t0, syncKind: .full,
                consistency: .crashConsistent, logicalBytes: 1, storedBytes: 1, transferredBytes: 1,
                retainUntil: t0.addingTimeInterval(86_400)))
            await #expect(throws: DatabaseError.self) {
                try await catalog.pool.write { db in
                    try db.execute(sql: "DELETE FROM vm WHERE uuid = ?", arguments: [vm.uuid.uuidString.lowercased()])
                }
            }
        }
    }
}
