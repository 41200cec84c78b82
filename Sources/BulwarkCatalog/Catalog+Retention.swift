import BulwarkCore
public import Foundation
import GRDB

extension Catalog {
    /// The points retention lets go at `now`, oldest first: kept until `retain_until` (the group's range from the
    /// point's time, or a later `--retain-until`), and never the newest point of a VM that is still in a group,
    /// whose next sync builds on it.
    public func prunablePoints(now: Date = Date()) async throws -> [RecoveryPointInfo] {
        try await read { db in
            try Self.fetchPoints(
                db,
                where: """
                    rp.retain_until < ? AND NOT (
                        rp.vm_uuid IN (SELECT vm_uuid FROM group_member)
                        AND rp.id = (SELECT newest.id FROM recovery_point newest WHERE newest.vm_uuid = rp.vm_uuid
                                     ORDER BY newest.created_at DESC, newest.id DESC LIMIT 1))
                    """,
                arguments: [now], order: "rp.retain_until, rp.id", limit: nil)
        }
    }
}
