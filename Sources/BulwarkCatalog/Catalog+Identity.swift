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

    /// Records a new enrollment token by its digest, usable once until `expiresAt`.
    @discardableResult
    public func createEnrollmentToken(
        _ digest: TokenDigest, expiresAt: Date, now: Date = Date()
    ) async throws -> EnrollmentTokenInfo {
        guard expiresAt > now else {
            throw CatalogError(.invalid, "an enrollment token must expire in the future; choose a positive --expires")
        }
        return try await write { db in
            if try EnrollmentTokenRecord.filter(Column("digest") == Data(digest.bytes)).fetchCount(db) > 0 {
                throw CatalogError(.alreadyExists, "this enrollment token already exists; generate a new one")
            }
            try EnrollmentTokenRecord(digest: Data(digest.bytes), createdAt: now, expiresAt: expiresAt).insert(db)
            return EnrollmentTokenInfo(createdAt: now, expiresAt: expiresAt, usedAt: nil, usedByHost: nil)
        }
    }

    /// Marks an enrollment token used by `host`; fails with `unauthorized` (never issued), `tokenExpired` or
    /// `tokenUsed`.
    @discardableResult
    public func consumeEnrollmentToken(
        _ digest: TokenDigest, host: String, now: Date = Date()
    ) async throws -> EnrollmentTokenInfo {
        try await write { db in try Self.consumeEnrollmentToken(db, digest: digest, host: host, now: now) }
    }

    /// Consumes the token and records the agent in one transaction: a token is spent only when the agent is
    /// recorded, and an agent is recorded only with a valid token.
    @discardableResult
    public func enrollAgent(
        _ registration: AgentRegistration, token digest: TokenDigest, now: Date = Date()
    ) async throws -> AgentInfo {
        try Self.checkHost(registration.host)
        return try await write { db in
            _ = try Self.consumeEnrollmentToken(db, digest: digest, host: registration.host, now: now)
            return try Self.upsertAgent(db, registration, now: now)
        }
    }

    static func consumeEnrollmentToken(
        _ db: Database, digest: TokenDigest, host: String, now: Date
    ) throws -> EnrollmentTokenInfo {
        guard var record = try EnrollmentTokenRecord.filter(Column("digest") == Data(digest.bytes)).fetchOne(db)
        else {
            throw CatalogError(
                .unauthorized,
                "the enrollment token is not known to this server; make one with `bulwark agent token` on the server's admin shell")
        }
        if let usedAt = record.usedAt {
            throw CatalogError(
                .tokenUsed,
                "the enrollment token was already used by host '\(record.usedByHost ?? "?")' at \(usedAt.formatted(.iso8601)); tokens are single use: make a new one with `bulwark agent token`")
        }
        guard record.expiresAt > now else {
            throw CatalogError(
                .tokenExpired,
                "the enrollment token expired at \(record.expiresAt.formatted(.iso8601)); make a new one with `bulwark agent token --expires DURATION`")
        }
        record.usedAt = now
        record.usedByHost = host
        try record.update(db)
        return EnrollmentTokenInfo(
            createdAt: record.createdAt, expiresAt: record.expiresAt, usedAt: now, usedByHost: host)
    }
}
