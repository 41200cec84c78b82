public import BulwarkCore
public import Foundation
import GRDB

// What verification owes and what it found: `verified_at` is the last time a verify read a point back, whatever it
// found; `state` is what it found (verified or damaged).

extension Catalog {
    /// The points a verification pass owes at `now`, oldest verify first: with `newPoints`, those never verified;
    /// with `reverifyAfter`, those whose last verify (or, never verified, whose commit) is at least that old.
    /// Damaged points are verified again too: a later sync may have stored the lost chunks again, which makes them
    /// whole.
    public func pointsToVerify(
        now: Date, newPoints: Bool, reverifyAfter: TimeInterval?, limit: Int = 1000
    ) async throws -> [RecoveryPointInfo] {
        var conditions: [String] = []
        var arguments = StatementArguments()
        if newPoints { conditions.append("rp.verified_at IS NULL") }
        if let reverifyAfter {
            conditions.append("COALESCE(rp.verified_at, rp.created_at) <= ?")
            arguments += [now.addingTimeInterval(-reverifyAfter)]
        }
        guard !conditions.isEmpty else { return [] }
        let condition = "(" + conditions.joined(separator: " OR ") + ")"
        let values = arguments
        return try await read { db in
            try Self.fetchPoints(
                db, where: condition, arguments: values,
                order: "COALESCE(rp.verified_at, rp.created_at), rp.id", limit: limit)
        }
    }

    /// Records a verify at `time`: `whole` points read back entirely and became `verified`; `damaged` did not.
    /// Points no longer in the catalog (pruned meanwhile) are skipped.
    public func recordVerification(
        whole: [RecoveryPointID], damaged: [RecoveryPointID], at time: Date = Date()
    ) async throws {
        try await write { db in
            for (ids, state) in [(whole, RecoveryPointState.verified), (damaged, .damaged)] {
                for id in ids {
                    try db.execute(
                        sql: "UPDATE recovery_point SET state = ?, verified_at = ? WHERE id = ?",
                        arguments: [state.rawValue, time, id.description])
                }
            }
        }
    }

    /// When point `id` was last verified; nil when never.
    public func lastVerified(point id: RecoveryPointID) async throws -> Date? {
        try await read { db in
            _ = try Self.fetchPoint(db, id: id)
            return try Date.fetchOne(
                db, sql: "SELECT verified_at FROM recovery_point WHERE id = ?", arguments: [id.description])
        }
    }
}
