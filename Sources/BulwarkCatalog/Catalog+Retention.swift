import BulwarkCore
public import Foundation
import GRDB

extension Catalog {
    /// The points retention lets go at `now`, oldest first: kept until `retain_until` (the group's range from the
    /// point's time, or a later `--retain-until`), and never the newest point of a VM that is still in a group,
    /// whose next sync builds on it, nor a point a queued or running restore reads.
    public func prunablePoints(now: Date = Date()) async throws -> [RecoveryPointInfo] {
        try await read { db in
            try Self.fetchPoints(
                db,
                where: """
                    rp.retain_until < ?
                    AND rp.id NOT IN (SELECT recovery_point_id FROM job
                                      WHERE state IN (?, ?) AND recovery_point_id IS NOT NULL)
                    AND NOT (
                        rp.vm_uuid IN (SELECT vm_uuid FROM group_member)
                        AND rp.id = (SELECT newest.id FROM recovery_point newest WHERE newest.vm_uuid = rp.vm_uuid
                                     ORDER BY newest.created_at DESC, newest.id DESC LIMIT 1))
                    """,
                arguments: [now, JobState.queued.rawValue, JobState.running.rawValue], order: "rp.retain_until, rp.id", limit: nil)
        }
    }
}
