public import BulwarkCatalog
import BulwarkCore
public import Foundation
public import Logging
public import ServiceLifecycle

/// Runs every protection group's schedule: each pass asks ``SchedulePlan`` what is due for each protected VM and
/// queues those jobs, which the VMs' agents then claim like any other.
///
/// Times of day are read in the server's time zone (`calendar`); what the scheduler has acted on is kept in the
/// catalog, so a restart neither repeats a slot nor owes more than one run for the slots it slept through.
public struct Scheduler: Service {
    let catalog: Catalog
    let taskSignal: TaskSignal
    let interval: Duration
    let calendar: Calendar
    let logger: Logger
    let clock: @Sendable () -> Date

    init(
        catalog: Catalog, taskSignal: TaskSignal, interval: Duration, calendar: Calendar = .current, logger: Logger,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.catalog = catalog
        self.taskSignal = taskSignal
        self.interval = interval
        self.calendar = calendar
        self.logger = logger
        self.clock = clock
    }

    /// A scheduler of its own, waking no polls: for tools and benchmarks that drive ``tick(now:)``.
    public init(catalog: Catalog, calendar: Calendar = .current, logger: Logger) {
        self.init(catalog: catalog, taskSignal: TaskSignal(), interval: .seconds(30), calendar: calendar, logger: logger)
    }

    public func run() async throws {
        logger.info("scheduler running", metadata: ["interval": "\(interval)", "time-zone": "\(calendar.timeZone.identifier)"])
        try await runPeriodically(every: interval, logger: logger, what: "scheduler") { _ = try await tick(now: clock()) }
    }

    /// One pass at `now`: queues what is due and returns those jobs.
    public func tick(now: Date) async throws -> [JobInfo] {
        var due: [(vm: UUID, decision: SchedulePlan.Decision)] = []
        for candidate in try await catalog.scheduleCandidates() where candidate.isReported && !candidate.isBusy {
            let plan = SchedulePlan(policy: candidate.policy, calendar: calendar)
            let decision = plan.decide(
                now: now, lastPoint: candidate.lastPoint, handled: candidate.handled, joinedAt: candidate.joinedAt,
                inconsistency: candidate.inconsistency)
            if decision.run != nil { due.append((candidate.vmUUID, decision)) }
        }
        guard !due.isEmpty else { return [] }
        let queued = try await catalog.queueScheduledRuns(due, now: now)
        for job in queued {
            logger.info("queued a scheduled \(job.kind)", metadata: ["job": "\(job.id)", "vm": "\(job.subject)"])
        }
        if !queued.isEmpty { await taskSignal.notify() }
        return queued
    }
}
