public import Foundation
import GRDB

extension Catalog {
    /// Records an agent, or replaces the certificate of one that enrolls again. Prefer
    /// ``enrollAgent(_:token:now:)``, which also spends the enrollment token.
    @discardableResult
    public func upsertAgent(_ registration: AgentRegistration, now: Date = Date()) async throws -> AgentInfo {
        try Self.checkHost(registration.host)
        return try await write { db in try Self.upsertAgent(db, registration, now: now) }
    }

    static func upsertAgent(_ db: Database, _ registration: AgentRegistration, now: Date) throws -> AgentInfo {
        var record =
            try AgentRecord.fetchOne(db, sql: "SELECT * FROM agent WHERE host = ?", arguments: [registration.host])
            ?? AgentRecord(
                host: registration.host, certificateFingerprint: "", certificatePem: "", enrolledAt: now)
        record.certificateFingerprint = registration.certificateFingerprint
        record.certificatePem = registration.certificatePEM
        record.enrolledAt = now
        try record.save(db)
        return try agentInfo(db, record)
    }

    /// Replaces the certificate of an enrolled host with one it renewed over its current certificate: from now on
    /// only the new one opens agent calls.
    @discardableResult
    public func renewAgentCertificate(
        host: String, certificateFingerprint: String, certificatePEM: String
    ) async throws -> AgentInfo {
        try await write { db in
            var record = try Self.agentRecord(db, host: host)
            record.certificateFingerprint = certificateFingerprint
            record.certificatePem = certificatePEM
            try record.update(db)
            return try Self.agentInfo(db, record)
        }
    }

    /// Every enrolled agent, by host.
    public func agents() async throws -> [AgentInfo] {
        try await read { db in
            try AgentRecord.fetchAll(db, sql: "SELECT * FROM agent ORDER BY host").map { try Self.agentInfo(db, $0) }
        }
    }

    /// The agent of `host`.
    public func agent(host: String) async throws -> AgentInfo {
        try await read { db in try Self.agentInfo(db, try Self.agentRecord(db, host: host)) }
    }

    /// The agent whose client certificate has `fingerprint`, or nil: how the server maps an mTLS peer to a host.
    public func agent(certificateFingerprint fingerprint: String) async throws -> AgentInfo? {
        try await read { db in
            try AgentRecord.fetchOne(
                db, sql: "SELECT * FROM agent WHERE certificate_fingerprint = ?", arguments: [fingerprint]
            ).map { try Self.agentInfo(db, $0) }
        }
    }

    /// Notes that the agent of `host` called in.
    public func touchAgent(host: String, at time: Date = Date()) async throws {
        try await write { db in
            var record = try Self.agentRecord(db, host: host)
            record.lastSeenAt = time
            try record.update(db)
        }
    }

    /// Forgets an agent. Its VMs that are protected or have points stay, with no host and state `missing`; the
    /// rest are forgotten with it. The tasks it was running fail in the same transaction: its certificate opens
    /// nothing any more, so nothing could ever finish them, and their VMs would stay blocked.
    @discardableResult
    public func removeAgent(host: String, now: Date = Date()) async throws -> InventoryChange {
        try await write { db in
            let record = try Self.agentRecord(db, host: host)
            for var task in try Self.runningTasks(db, host: record.host) {
                try Self.end(
                    db, &task, as: .failed,
                    error: "the agent of host '\(record.host)' was removed while the task ran; nothing of it is a recovery point",
                    now: now)
            }
            let change = try Self.replaceInventory(db, hostID: record.id!, vms: [], now: now)
            try record.delete(db)
            return change
        }
    }

    static func agentInfo(_ db: Database, _ record: AgentRecord) throws -> AgentInfo {
        let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM vm WHERE host_id = ?", arguments: [record.id]) ?? 0
        return AgentInfo(
            host: record.host, certificateFingerprint: record.certificateFingerprint,
            certificatePEM: record.certificatePem, enrolledAt: record.enrolledAt, lastSeenAt: record.lastSeenAt,
            vmCount: count)
    }
}
