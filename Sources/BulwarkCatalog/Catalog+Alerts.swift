public import BulwarkCore
public import Foundation
import GRDB

extension Catalog {
    /// Raises an alert. If one of the same kind about the same subject is open, that one is updated (severity,
    /// message) and returned instead, so a failure that repeats every sync is one alert, not hundreds.
    @discardableResult
    public func raiseAlert(
        kind: AlertKind, severity: AlertSeverity, subject: String, message: String, at time: Date = Date()
    ) async throws -> AlertInfo {
        try await write { db in
            try Self.raiseAlert(db, kind: kind, severity: severity, subject: subject, message: message, at: time)
        }
    }

    /// ``raiseAlert(kind:severity:subject:message:at:)`` inside a transaction of the caller's, so that an alert
    /// and the change it reports commit together.
    @discardableResult
    static func raiseAlert(
        _ db: Database, kind: AlertKind, severity: AlertSeverity, subject: String, message: String, at time: Date
    ) throws -> AlertInfo {
        if var open = try AlertRecord.fetchOne(
            db, sql: "SELECT * FROM alert WHERE kind = ? AND subject = ? AND resolved_at IS NULL",
            arguments: [kind.rawValue, subject])
        {
            open.severity = severity.rawValue
            open.message = message
            try open.update(db)
            return try open.info()
        }
        let record = AlertRecord(
            id: AlertID.generate(at: time).description, kind: kind.rawValue, severity: severity.rawValue,
            subject: subject, message: message, raisedAt: time)
        try record.insert(db)
        return try record.info()
    }

    /// Resolves the open alert of `kind` about `subject` inside the caller's transaction.
    static func resolveAlerts(_ db: Database, kind: AlertKind, subject: String, at time: Date) throws {
        try db.execute(
            sql: "UPDATE alert SET resolved_at = ? WHERE kind = ? AND subject = ? AND resolved_at IS NULL",
            arguments: [time, kind.rawValue, subject])
    }

    /// Alerts, newest first: open ones only unless `includeResolved`.
    public func alerts(includeResolved: Bool = false) async throws -> [AlertInfo] {
        try await read { db in
            try AlertRecord.fetchAll(
                db,
                sql: "SELECT * FROM alert \(includeResolved ? "" : "WHERE resolved_at IS NULL") ORDER BY raised_at DESC, id DESC"
            ).map { try $0.info() }
        }
    }

    /// Resolves an alert; resolving a resolved one changes nothing.
    @discardableResult
    public func resolveAlert(id: AlertID, at time: Date = Date()) async throws -> AlertInfo {
        try await write { db in
            guard var record = try AlertRecord.fetchOne(db, key: id.description) else {
                throw CatalogError(.notFound, "no alert has id \(id); `bulwark alerts` lists open alerts")
            }
            if record.resolvedAt == nil {
                record.resolvedAt = time
                try record.update(db)
            }
            return try record.info()
        }
    }

    /// Resolves the open alert of `kind` about `subject`, if any (a sync that succeeds resolves `sync-failed`).
    @discardableResult
    public func resolveAlerts(kind: AlertKind, subject: String, at time: Date = Date()) async throws -> Int {
        try await write { db in
            try Self.resolveAlerts(db, kind: kind, subject: subject, at: time)
            return db.changesCount
        }
    }
}

extension AlertRecord {
    func info() throws -> AlertInfo {
        AlertInfo(
            id: try AlertID(uuid: UUID(stored: id)), kind: AlertKind(rawValue: kind),
            severity: try stored(severity, as: AlertSeverity.self), subject: subject, message: message,
            raisedAt: raisedAt, resolvedAt: resolvedAt)
    }
}
