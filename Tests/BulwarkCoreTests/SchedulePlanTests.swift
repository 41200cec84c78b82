import BulwarkCore
import Foundation
import Testing

/// The scheduler's decisions, driven by an injected clock in a fixed time zone.
@Suite struct SchedulePlanTests {
    let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/Berlin")!
        return calendar
    }()

    /// 2026-11-23 is a Monday.
    func at(_ day: Int, _ hour: Int, _ minute: Int, month: Int = 11) -> Date {
        calendar.date(from: DateComponents(year: 2026, month: month, day: day, hour: hour, minute: minute))!
    }

    func plan(_ options: ProtectionPolicy.Options) throws -> SchedulePlan {
        SchedulePlan(
            policy: try ProtectionPolicy.default.applying(options, now: at(1, 0, 0), calendar: calendar),
            calendar: calendar)
    }

    @Test func nothingIsScheduledBeforeTheFirstPoint() throws {
        let decision = try plan(.init()).decide(now: at(23, 20, 30), lastPoint: nil, handled: [:], joinedAt: at(20, 0, 0))
        #expect(decision.run == nil && decision.handled.isEmpty)
    }

    @Test func syncFrequencyCountsFromTheLastPointOrScheduledSync() throws {
        let plan = try plan(.init(syncFrequency: "15m", recoveryPoints: "03:00"))
        let joined = at(23, 9, 0)
        #expect(plan.decide(now: at(23, 10, 14), lastPoint: at(23, 10, 0), handled: [:], joinedAt: joined).run == nil)
        let due = plan.decide(now: at(23, 10, 15), lastPoint: at(23, 10, 0), handled: [:], joinedAt: joined)
        #expect(due.run == .sync && due.handled == [.sync: at(23, 10, 15)] && due.reason == "sync every 15m")
        // Queued at 10:15 but the point is not there yet: no second sync at 10:16.
        #expect(
            plan.decide(now: at(23, 10, 16), lastPoint: at(23, 10, 0), handled: [.sync: at(23, 10, 15)], joinedAt: joined).run
                == nil)
        // A point an admin made at 10:20 resets the clock.
        #expect(
            plan.decide(now: at(23, 10, 31), lastPoint: at(23, 10, 20), handled: [.sync: at(23, 10, 15)], joinedAt: joined).run
                == nil)
    }

    @Test func recoveryPointTimesRunAtTheirSlotOnce() throws {
        let plan = try plan(.init(syncFrequency: "before-recovery-point", recoveryPoints: "08:00,20:00", expressFull: "none"))
        let joined = at(20, 12, 0)
        let due = plan.decide(now: at(23, 20, 0), lastPoint: at(23, 8, 1), handled: [.sync: at(23, 8, 0)], joinedAt: joined)
        #expect(due.run == .sync && due.handled == [.sync: at(23, 20, 0)] && due.reason == "recovery point 20:00")
        #expect(
            plan.decide(now: at(23, 20, 5), lastPoint: at(23, 8, 1), handled: due.handled, joinedAt: joined).run == nil)
        // With before-recovery-point nothing runs between the slots.
        #expect(
            plan.decide(now: at(24, 7, 59), lastPoint: at(23, 20, 1), handled: due.handled, joinedAt: joined).run == nil)
    }

    @Test func slotsMissedWhileTheServerWasDownRunOnce() throws {
        // Default policy: sync every 15m, recovery point and express full at 20:00 every day.
        let plan = try plan(.init())
        let handled: [SchedulePlan.Run: Date] = [.sync: at(23, 19, 0), .expressFull: at(22, 20, 0)]
        // Down from Monday 19:00 to Wednesday 21:00: one express full stands for two days of slots and syncs.
        let decision = plan.decide(now: at(25, 21, 0), lastPoint: at(23, 19, 0), handled: handled, joinedAt: at(1, 0, 0))
        #expect(decision.run == .expressFull)
        #expect(decision.handled == [.expressFull: at(25, 20, 0), .sync: at(25, 20, 0)])
        #expect(decision.reason == "express full 20:00")
        let after = plan.decide(now: at(25, 21, 1), lastPoint: at(25, 21, 1), handled: decision.handled, joinedAt: at(1, 0, 0))
        #expect(after.run == nil)
    }

    @Test func daysLimitRecoveryPointsButNotTheDailyCheck() throws {
        let plan = try plan(
            .init(syncFrequency: "before-recovery-point", recoveryPoints: "20:00", days: "mon", expressFull: "none",
                  consistencyCheck: "daily@02:00"))
        let joined = at(1, 0, 0)
        // Tuesday 20:30: the latest recovery point slot is Monday's, already handled.
        let tuesday = plan.decide(
            now: at(24, 20, 30), lastPoint: at(24, 2, 5),
            handled: [.sync: at(23, 20, 0), .consistencyCheck: at(24, 2, 0)], joinedAt: joined)
        #expect(tuesday.run == nil)
        // Wednesday 02:00: the check runs every day.
        let check = plan.decide(
            now: at(25, 2, 0), lastPoint: at(24, 2, 5),
            handled: [.sync: at(23, 20, 0), .consistencyCheck: at(24, 2, 0)], joinedAt: joined)
        #expect(check.run == .consistencyCheck && check.handled == [.consistencyCheck: at(25, 2, 0)])
        #expect(plan.latestSlot(of: [try TimeOfDay(hour: 20, minute: 0)], on: [.monday], atOrBefore: at(29, 12, 0)) == at(23, 20, 0))
    }

    @Test func aPointMadeAfterARecoveryPointSlotCoversIt() throws {
        let plan = try plan(.init(syncFrequency: "before-recovery-point", recoveryPoints: "20:00", expressFull: "none"))
        // Down at 20:00, but an admin's sync made a point at 20:30: nothing is owed at 21:00.
        #expect(plan.decide(now: at(23, 21, 0), lastPoint: at(23, 20, 30), handled: [:], joinedAt: at(1, 0, 0)).run == nil)
        #expect(plan.decide(now: at(23, 21, 0), lastPoint: at(23, 19, 30), handled: [:], joinedAt: at(1, 0, 0)).run == .sync)
    }

    @Test func anInconsistentReplicaIsCheckedAtOnceUnderIfInconsistent() throws {
        let plan = try plan(.init(syncFrequency: "1h", recoveryPoints: "20:00", expressFull: "none"))
        let joined = at(1, 0, 0)
        let check = plan.decide(
            now: at(23, 10, 5), lastPoint: at(23, 10, 0), handled: [:], joinedAt: joined, inconsistency: "it moved")
        #expect(check.run == .consistencyCheck && check.reason == "the replica is inconsistent (it moved)")
        // Queued at 10:05 and not cured (it failed): no second one before an hour has passed.
        #expect(
            plan.decide(
                now: at(23, 10, 50), lastPoint: at(23, 10, 0), handled: check.handled, joinedAt: joined,
                inconsistency: "it moved"
            ).run == nil)
        #expect(
            plan.decide(
                now: at(23, 11, 6), lastPoint: at(23, 10, 0), handled: check.handled, joinedAt: joined,
                inconsistency: "it moved"
            ).run == .consistencyCheck)
        // Other consistency-check policies leave it to the next sync, which checks by itself.
        let never = try self.plan(.init(syncFrequency: "1h", recoveryPoints: "20:00", expressFull: "none", consistencyCheck: "never"))
        #expect(
            never.decide(now: at(23, 10, 5), lastPoint: at(23, 10, 0), handled: [:], joinedAt: joined, inconsistency: "it moved").run
                == nil)
    }

    @Test func slotsBeforeTheVMJoinedAreNotOwed() throws {
        let plan = try plan(.init(syncFrequency: "before-recovery-point", recoveryPoints: "20:00", expressFull: "none"))
        #expect(plan.decide(now: at(23, 20, 10), lastPoint: at(23, 20, 6), handled: [:], joinedAt: at(23, 20, 5)).run == nil)
        #expect(plan.decide(now: at(24, 20, 0), lastPoint: at(23, 20, 6), handled: [:], joinedAt: at(23, 20, 5)).run == .sync)
    }

    @Test func aClockThatJumpsBackRunsNothingTwice() throws {
        let plan = try plan(.init(syncFrequency: "1h", recoveryPoints: "20:00", expressFull: "none"))
        let handled: [SchedulePlan.Run: Date] = [.sync: at(23, 20, 0)]
        // The clock goes back to 19:30 after the 20:00 sync: yesterday's slot is older than what was handled, and
        // the hour counts from the later of the point and the handled sync.
        #expect(plan.decide(now: at(23, 19, 30), lastPoint: at(23, 20, 1), handled: handled, joinedAt: at(1, 0, 0)).run == nil)
        // Forward by a day: one run.
        let forward = plan.decide(now: at(24, 21, 0), lastPoint: at(23, 20, 1), handled: handled, joinedAt: at(1, 0, 0))
        #expect(forward.run == .sync && forward.handled == [.sync: at(24, 20, 0)])
    }

    /// Overlapping schedules: a sync, a recovery point, an express full and the daily check all due at 20:00 make
    /// one job, the strongest (the check, which also makes a point), and settle every slot, so none of the others
    /// runs after it.
    @Test func overlappingSlotsMakeOneJobAndSettleThemAll() throws {
        let plan = try plan(
            .init(syncFrequency: "15m", recoveryPoints: "20:00", expressFull: "20:00", consistencyCheck: "daily@20:00"))
        let joined = at(20, 0, 0)
        let due = plan.decide(
            now: at(23, 20, 0), lastPoint: at(23, 19, 40), handled: [.sync: at(23, 19, 40)], joinedAt: joined)
        #expect(due.run == .consistencyCheck)
        #expect(due.handled[.consistencyCheck] == at(23, 20, 0) && due.handled[.expressFull] == at(23, 20, 0))
        #expect(due.handled[.sync] == at(23, 20, 0))
        // The check's point lands at 20:03: nothing else is owed at 20:05.
        #expect(plan.decide(now: at(23, 20, 5), lastPoint: at(23, 20, 3), handled: due.handled, joinedAt: joined).run == nil)
        // Without the check, the express full is the strongest.
        let noCheck = try self.plan(.init(syncFrequency: "15m", recoveryPoints: "20:00", expressFull: "20:00"))
        #expect(
            noCheck.decide(now: at(23, 20, 0), lastPoint: at(23, 19, 40), handled: [.sync: at(23, 19, 40)], joinedAt: joined).run
                == .expressFull)
    }

    @Test func aTimeSkippedByDaylightSavingStillGetsItsSlot() throws {
        // 2026-03-29: Berlin skips 02:00–03:00.
        let slot = try plan(.init()).latestSlot(
            of: [try TimeOfDay(hour: 2, minute: 30)], on: nil, atOrBefore: at(29, 12, 0, month: 3))
        let found = try #require(slot)
        #expect(calendar.isDate(found, inSameDayAs: at(29, 12, 0, month: 3)) && found <= at(29, 12, 0, month: 3))
    }
}
