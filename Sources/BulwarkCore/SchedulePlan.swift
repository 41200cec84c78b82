public import Foundation

/// What a protection group's policy asks of one protected VM at a moment: the pure decision behind the scheduler.
///
/// Times of day are wall-clock times in `calendar`'s time zone (the server's); every instant in and out is a
/// `Date` (UTC). A slot is handled once: the caller records the slot it acted on (``Decision/handled``), so a
/// schedule missed while the server was down runs once after start, not once per missed slot, and a clock that
/// jumps back does not run a slot again.
public struct SchedulePlan: Sendable {
    /// What to start.
    public enum Run: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
        /// A sync (incremental, or a consistency check when change tracking cannot be trusted).
        case sync
        /// A sync marked as an express full backup.
        case expressFull = "express-full"
        /// A consistency check (`--consistency-check daily@HH:MM`).
        case consistencyCheck = "consistency-check"

        public var description: String { rawValue }
    }

    /// What is due, and the slots it settles.
    public struct Decision: Hashable, Sendable {
        /// The one job to start now; nil when nothing is due. A consistency check and an express full both make
        /// a point too, so the strongest due run stands for the others.
        public var run: Run?
        /// The slot each schedule was settled at by this decision: record these once the job is queued, so that the
        /// same slot is not acted on twice (while the VM is busy with another job, the slot stays owed and runs once
        /// that job ends).
        public var handled: [Run: Date]
        /// Why, for the job's log: `recovery point 20:00`, `sync every 15m`, ...
        public var reason: String?
    }

    public var policy: ProtectionPolicy
    public var calendar: Calendar

    public init(policy: ProtectionPolicy, calendar: Calendar) {
        self.policy = policy
        self.calendar = calendar
    }

    /// How long after queuing a check for an inconsistent replica another is queued when the first did not cure
    /// it (it failed, say): soon enough to retry, rarely enough not to hammer a broken host.
    public static let inconsistencyRetry: TimeInterval = 3600

    /// The decision at `now` for a VM whose newest point was made at `lastPoint` (nil: none yet, and then the
    /// initial replica, not the schedule, makes the first), given the slots already `handled` and the moment the
    /// VM joined its group (slots before it are not owed).
    ///
    /// `inconsistency` says why the replica no longer matches the VM (it moved to another host, a disk was
    /// resized): under `--consistency-check if-inconsistent` that queues a check at once.
    public func decide(
        now: Date, lastPoint: Date?, handled: [Run: Date], joinedAt: Date, inconsistency: String? = nil
    ) -> Decision {
        guard let lastPoint else { return Decision(run: nil, handled: [:], reason: nil) }
        var settled: [Run: Date] = [:]
        var reasons: [Run: String] = [:]
        if case .ifInconsistent = policy.consistencyCheck, let inconsistency,
            now.timeIntervalSince(handled[.consistencyCheck] ?? .distantPast) >= Self.inconsistencyRetry
        {
            settled[.consistencyCheck] = now
            reasons[.consistencyCheck] = "the replica is inconsistent (\(inconsistency))"
        }
        func owed(_ run: Run, _ slot: Date?, _ reason: String, coveredBy point: Date? = nil) {
            guard let slot, slot > max(handled[run] ?? joinedAt, joinedAt, point ?? joinedAt) else { return }
            settled[run] = slot
            reasons[run] = reason
        }
        let days = Set(policy.days)
        if case .daily(let time) = policy.consistencyCheck {
            owed(.consistencyCheck, latestSlot(of: [time], on: nil, atOrBefore: now), "consistency check daily@\(time)")
        }
        if let slot = latestSlot(of: policy.expressFullTimes, on: days, atOrBefore: now) {
            owed(.expressFull, slot, "express full \(timeText(slot))")
        }
        if let slot = latestSlot(of: policy.recoveryPointTimes, on: days, atOrBefore: now) {
            // Any point made at or after the slot is that slot's recovery point (a sync an admin ran, say).
            owed(.sync, slot, "recovery point \(timeText(slot))", coveredBy: lastPoint)
        }
        if settled[.sync] == nil, let interval = policy.syncFrequency.intervalSeconds {
            // Frequency counts from the last point or the last sync the schedule asked for, whichever is later,
            // so a sync an admin ran resets the clock like a scheduled one.
            let since = max(lastPoint, handled[.sync] ?? lastPoint)
            if now.timeIntervalSince(since) >= TimeInterval(interval) {
                settled[.sync] = now
                reasons[.sync] = "sync every \(policy.syncFrequency)"
            }
        }
        let strongest = [Run.consistencyCheck, .expressFull, .sync].first { settled[$0] != nil }
        return Decision(run: strongest, handled: settled, reason: strongest.flatMap { reasons[$0] })
    }

    /// The latest moment at or before `now` whose wall-clock time is one of `times`, on one of `days` (nil: every
    /// day); looks back eight days. A time a daylight-saving change skips is taken at the first moment after it.
    public func latestSlot(of times: [TimeOfDay], on days: Set<Weekday>?, atOrBefore now: Date) -> Date? {
        guard !times.isEmpty else { return nil }
        let today = calendar.startOfDay(for: now)
        for back in 0...8 {
            guard let day = calendar.date(byAdding: .day, value: -back, to: today) else { continue }
            if let days, !days.contains(where: { $0.calendarWeekday == calendar.component(.weekday, from: day) }) {
                continue
            }
            let slots = times.compactMap { time in
                calendar.date(bySettingHour: time.hour, minute: time.minute, second: 0, of: day)
            }.filter { $0 <= now }
            if let latest = slots.max() { return latest }
        }
        return nil
    }

    private func timeText(_ date: Date) -> String {
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        return String(format: "%02d:%02d", parts.hour ?? 0, parts.minute ?? 0)
    }
}
