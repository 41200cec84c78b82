import BulwarkCore
public import Foundation
import GRDB

extension Catalog {
    /// The server's identity, made on the first call and the same ever after.
    public func serverIdentity(now: Date = Date()) async throws -> ServerIdentity {
        try await write { db in
            if let record = try ServerIdentityRecord.fetchOne(db) {
                return ServerIdentity(serverID: try UUID(stored: record.serverId), createdAt: record.createdAt)
            }
            let identity = ServerIdentity(serverID: UUID(), createdAt: now)
            try ServerIdentityRecord(serverId: identity.serverID.catalogText, createdAt: now).insert(db)
            return identity
        }
    }

    // MARK: - Admin tokens

    /// Records an admin token by its digest; `label` says where it came from (`data-dir`, an admin's name).
    public func addAdminToken(_ digest: TokenDigest, label: String, now: Date = Date()) async throws {
        try await write { db in
            if try AdminTokenRecord.filter(Column("digest") == Data(digest.bytes)).fetchCount(db) > 0 {
                throw CatalogError(.alreadyExists, "this admin token is already known; generate a new one")
            }
            try AdminTokenRecord(digest: Data(digest.bytes), label: label, createdAt: now).insert(db)
        }
    }

    /// Makes `digest` the one admin token with `label`: others of that label are revoked. This is how the data
    /// directory's token is rotated (delete `admin.token`, restart bulwarkd): the old one stops working at once.
    /// Returns how many tokens were revoked.
    @discardableResult
    public func replaceAdminTokens(label: String, with digest: TokenDigest, now: Date = Date()) async throws -> Int {
        try await write { db in
            let bytes = Data(digest.bytes)
            try db.execute(sql: "DELETE FROM admin_token WHERE label = ? AND digest <> ?", arguments: [label, bytes])
            let revoked = db.changesCount
            if try AdminTokenRecord.filter(Column("digest") == bytes).fetchCount(db) == 0 {
                try AdminTokenRecord(digest: bytes, label: label, createdAt: now).insert(db)
            }
            return revoked
        }
    }

    /// Returns the label of the admin token with `digest`, or fails with `unauthorized`.
    ///
    /// Every stored digest is compared in full, so the time taken says nothing about near misses.
    public func verifyAdminToken(_ digest: TokenDigest) async throws -> String {
        let records = try await read { db in try AdminTokenRecord.fetchAll(db) }
        var label: String?
        for record in records where digest.matches(Array(record.digest)) { label = record.label }
        guard let label else {
            throw CatalogError(
                .unauthorized,
                "the admin token is not valid; use the token in the server's data dir (admin-token) or pass --token")
        }
        return label
    }

    // MARK: - Enrollment tokens

    /// Records a new enrollment token by its digest: usable once until `expiresAt`, by `host` only.
    ///
    /// A token for a host that is enrolled already must be a `reenroll` token, and a `reenroll` token must name an
    /// enrolled host: replacing a host's certificate is a deliberate act, never the side effect of a new token.
    @discardableResult
    public func createEnrollmentToken(
        _ digest: TokenDigest, host: String, reenroll: Bool = false, expiresAt: Date, now: Date = Date()
    ) async throws -> EnrollmentTokenInfo {
        try Self.checkHost(host)
        guard expiresAt > now else {
            throw CatalogError(.invalid, "an enrollment token must expire in the future; choose a positive --expires")
        }
        return try await write { db in
            if try EnrollmentTokenRecord.filter(Column("digest") == Data(digest.bytes)).fetchCount(db) > 0 {
                throw CatalogError(.alreadyExists, "this enrollment token already exists; generate a new one")
            }
            let enrolled = try AgentRecord.fetchOne(db, sql: "SELECT * FROM agent WHERE host = ?", arguments: [host])
            if let enrolled, !reenroll {
                throw CatalogError(
                    .conflict,
                    "host '\(enrolled.host)' is enrolled already (since \(enrolled.enrolledAt.formatted(.iso8601))); to replace its certificate make a token with `bulwark agent token --host \(enrolled.host) --reenroll`")
            }
            if enrolled == nil, reenroll {
                throw CatalogError(
                    .notFound,
                    "no agent is enrolled as '\(host)', so there is nothing to re-enroll; drop --reenroll to enroll it for the first time")
            }
            try EnrollmentTokenRecord(
                digest: Data(digest.bytes), createdAt: now, expiresAt: expiresAt, host: host, reenroll: reenroll
            ).insert(db)
            return EnrollmentTokenInfo(
                createdAt: now, expiresAt: expiresAt, usedAt: nil, usedByHost: nil, host: host, reenroll: reenroll)
        }
    }

    /// Checks, without spending it, that the token may enroll `host` now: what the server asks before it parses
    /// or signs anything the caller sent.
    @discardableResult
    public func checkEnrollmentToken(
        _ digest: TokenDigest, host: String, now: Date = Date()
    ) async throws -> EnrollmentTokenInfo {
        try await read { db in try Self.checkEnrollmentToken(db, digest: digest, host: host, now: now).info }
    }

    /// Marks an enrollment token used by `host`; fails with `unauthorized` (never issued), `tokenExpired`,
    /// `tokenUsed` or `tokenWrongHost`.
    @discardableResult
    public func consumeEnrollmentToken(
        _ digest: TokenDigest, host: String, now: Date = Date()
    ) async throws -> EnrollmentTokenInfo {
        try await write { db in try Self.consumeEnrollmentToken(db, digest: digest, host: host, now: now) }
    }

    /// Consumes the token and records the agent in one transaction: a token is spent only when the agent is
    /// recorded, and an agent is recorded only with a valid token for its host.
    ///
    /// A re-enrollment replaces the host's certificate (the old one stops opening agent routes at once) and raises
    /// an `agent-reenrolled` alert in the same transaction, so a stolen re-enrollment token cannot pass unseen.
    @discardableResult
    public func enrollAgent(
        _ registration: AgentRegistration, token digest: TokenDigest, now: Date = Date()
    ) async throws -> AgentInfo {
        try Self.checkHost(registration.host)
        return try await write { db in
            let token = try Self.consumeEnrollmentToken(db, digest: digest, host: registration.host, now: now)
            let previous = try AgentRecord.fetchOne(
                db, sql: "SELECT * FROM agent WHERE host = ?", arguments: [registration.host])
            if token.reenroll {
                try Self.raiseAlert(
                    db, kind: .agentReenrolled, severity: .warning, subject: "agent \(registration.host)",
                    message: "the agent of host '\(registration.host)' enrolled again with a re-enrollment token and a new certificate (fingerprint \(registration.certificateFingerprint))"
                        + (previous.map { "; the certificate it had since \($0.enrolledAt.formatted(.iso8601)) no longer opens agent calls" } ?? "")
                        + ". If nobody re-enrolled this host on purpose, remove it with `bulwark agent remove \(registration.host)`",
                    at: now)
            }
            return try Self.upsertAgent(db, registration, now: now)
        }
    }

    static func consumeEnrollmentToken(
        _ db: Database, digest: TokenDigest, host: String, now: Date
    ) throws -> EnrollmentTokenInfo {
        var (record, _) = try checkEnrollmentToken(db, digest: digest, host: host, now: now)
        record.usedAt = now
        record.usedByHost = host
        try record.update(db)
        return record.info
    }

    /// The token's row when it may enroll `host` at `now`, else why not.
    private static func checkEnrollmentToken(
        _ db: Database, digest: TokenDigest, host: String, now: Date
    ) throws -> (record: EnrollmentTokenRecord, info: EnrollmentTokenInfo) {
        guard let record = try EnrollmentTokenRecord.filter(Column("digest") == Data(digest.bytes)).fetchOne(db)
        else {
            throw CatalogError(
                .unauthorized,
                "the enrollment token is not known to this server; make one with `bulwark agent token --host NAME` on the server's admin shell")
        }
        if let usedAt = record.usedAt {
            throw CatalogError(
                .tokenUsed,
                "the enrollment token was already used by host '\(record.usedByHost ?? "?")' at \(usedAt.formatted(.iso8601)); tokens are single use: make a new one with `bulwark agent token --host NAME`")
        }
        guard record.expiresAt > now else {
            throw CatalogError(
                .tokenExpired,
                "the enrollment token expired at \(record.expiresAt.formatted(.iso8601)); make a new one with `bulwark agent token --host NAME --expires DURATION`")
        }
        guard let bound = record.host else {
            throw CatalogError(
                .tokenWrongHost,
                "the enrollment token was made before tokens named their host and enrolls no host; make a new one with `bulwark agent token --host \(host)`")
        }
        guard bound.caseInsensitiveCompare(host) == .orderedSame else {
            throw CatalogError(
                .tokenWrongHost,
                "the enrollment token was issued for host '\(bound)', not '\(host)'; enroll with --host \(bound), or make a token for this host with `bulwark agent token --host \(host)`")
        }
        let enrolled = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM agent WHERE host = ?)", arguments: [host]) ?? false
        if enrolled, !record.reenroll {
            throw CatalogError(
                .tokenWrongHost,
                "host '\(host)' is enrolled already and this token is not a re-enrollment token; to replace its certificate make one with `bulwark agent token --host \(host) --reenroll`")
        }
        return (record, record.info)
    }
}

extension EnrollmentTokenRecord {
    init(digest: Data, createdAt: Date, expiresAt: Date, host: String, reenroll: Bool) {
        self.init(
            id: nil, digest: digest, createdAt: createdAt, expiresAt: expiresAt, usedAt: nil, usedByHost: nil,
            host: host, reenroll: reenroll)
    }

    var info: EnrollmentTokenInfo {
        EnrollmentTokenInfo(
            createdAt: createdAt, expiresAt: expiresAt, usedAt: usedAt, usedByHost: usedByHost, host: host,
            reenroll: reenroll)
    }
}
