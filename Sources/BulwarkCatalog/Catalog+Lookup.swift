import BulwarkCore
import Foundation
import GRDB

// Lookups shared by the concerns; each throws a `notFound` that names the value and lists what exists.

extension Catalog {
    static func datastoreRecord(_ db: Database, named name: ResourceName) throws -> DatastoreRecord {
        if let record = try DatastoreRecord.fetchOne(
            db, sql: "SELECT * FROM datastore WHERE name = ?", arguments: [name.rawValue])
        {
            return record
        }
        let names = try String.fetchAll(db, sql: "SELECT name FROM datastore ORDER BY name")
        throw CatalogError(
            .notFound,
            "no datastore is named '\(name)'; " + (names.isEmpty
                ? "create one with `bulwark datastore create`"
                : "known datastores: \(names.joined(separator: ", "))"),
            candidates: names)
    }

    static func groupRecord(_ db: Database, named name: ResourceName) throws -> GroupRecord {
        if let record = try GroupRecord.fetchOne(
            db, sql: "SELECT * FROM protection_group WHERE name = ?", arguments: [name.rawValue])
        {
            return record
        }
        let names = try String.fetchAll(db, sql: "SELECT name FROM protection_group ORDER BY name")
        throw CatalogError(
            .notFound,
            "no protection group is named '\(name)'; " + (names.isEmpty
                ? "create one with `bulwark group create`"
                : "known groups: \(names.joined(separator: ", "))"),
            candidates: names)
    }

    static func agentRecord(_ db: Database, host: String) throws -> AgentRecord {
        if let record = try AgentRecord.fetchOne(db, sql: "SELECT * FROM agent WHERE host = ?", arguments: [host]) {
            return record
        }
        let hosts = try String.fetchAll(db, sql: "SELECT host FROM agent ORDER BY host")
        throw CatalogError(
            .notFound,
            "no agent is enrolled for host '\(host)'; " + (hosts.isEmpty
                ? "enroll it with a token from `bulwark agent token`"
                : "enrolled hosts: \(hosts.joined(separator: ", "))"),
            candidates: hosts)
    }

    static func vmRecord(_ db: Database, uuid: UUID) throws -> VMRecord {
        guard let record = try VMRecord.fetchOne(db, key: uuid.catalogText) else {
            throw CatalogError(
                .notFound, "no VM has UUID \(uuid.catalogText); `bulwark vm list` shows the VMs agents report")
        }
        return record
    }

    /// Host names by agent id.
    static func hostNames(_ db: Database) throws -> [Int64: String] {
        var hosts: [Int64: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT id, host FROM agent") { hosts[row["id"]] = row["host"] }
        return hosts
    }

    /// Validates a host name as agents report it: what a host name may hold, and nothing that breaks `HOST/NAME`.
    static func checkHost(_ host: String) throws {
        let allowed = host.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-"
                || $0 == "." || $0 == "_"
        }
        guard (1...253).contains(host.count), allowed else {
            throw CatalogError(
                .invalid,
                "host name '\(host)' is not valid: use 1–253 letters, digits, hyphens, dots or underscores (the host's name as `hostname` prints it)")
        }
    }
}
