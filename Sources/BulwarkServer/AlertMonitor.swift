import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Logging
import ServiceLifecycle
import X509

/// Watches what an administrator must hear about and keeps the alerts true: each pass raises what is wrong and
/// resolves what no longer is, so alerts resolve themselves when the cause is gone.
///
/// - `sync-failed`: a protected VM's latest sync, check, initial replica or seed failed;
/// - `sync-overdue`: no point for twice the group's sync interval;
/// - `recovery-point-damaged`: a verify marked points of the VM damaged;
/// - `datastore-low-space`: a datastore's file system is 80% full (warning) or 95% (critical);
/// - `datastore-unavailable`: a datastore's folder cannot be opened (critical);
/// - `job-warnings` / `job-failed`: a VM's latest job ended with warnings, or bulwarkd's latest prune or verify
///   ended with warnings or failed.
///
/// Every alert that opens, whoever raised it, is posted as JSON to the webhook when one is configured.
struct AlertMonitor: Service {
    /// Used and total bytes of the file system holding a path.
    typealias SpaceProbe = @Sendable (String) -> (used: UInt64, total: UInt64)?

    let catalog: Catalog
    let datastores: Datastores
    let interval: Duration
    let webhook: URL?
    let logger: Logger
    let clock: @Sendable () -> Date
    let space: SpaceProbe
    /// Alerts already posted (or open when the monitor started, so a restart posts nothing twice).
    private let posted = PostedAlerts()

    init(
        catalog: Catalog, datastores: Datastores, interval: Duration, webhook: URL?, logger: Logger,
        clock: @escaping @Sendable () -> Date = { Date() }, space: @escaping SpaceProbe = AlertMonitor.fileSystemSpace
    ) {
        self.catalog = catalog
        self.datastores = datastores
        self.interval = interval
        self.webhook = webhook
        self.logger = logger
        self.clock = clock
        self.space = space
    }

    func run() async throws {
        await posted.remember(try await catalog.alerts().map(\.id))
        try await runPeriodically(every: interval, logger: logger, what: "alert monitor") { try await pass(now: clock()) }
    }

    /// One pass at `now`; returns the alerts that opened since the last pass (and were posted).
    @discardableResult
    func pass(now: Date) async throws -> [AlertInfo] {
        for vm in try await catalog.protectionHealth() { try await judge(vm, now: now) }
        for datastore in try await catalog.datastores() { try await judge(datastore, now: now) }
        for job in try await catalog.latestServerJobs(kinds: [.prune, .verify]) { try await judge(job, now: now) }
        for agent in try await catalog.agents() { try await judge(agent, now: now) }
        let fresh = await posted.unposted(try await catalog.alerts())
        for alert in fresh { await post(alert) }
        return fresh
    }

    private func judge(_ vm: ProtectionHealth, now: Date) async throws {
        let subject = "vm \(vm.reference)"
        if let job = vm.lastJob, job.state == .failed {
            try await catalog.raiseAlert(
                kind: .syncFailed, severity: .critical, subject: subject,
                message: "the last \(job.kind) of VM \(vm.reference) (job \(job.id)) failed: \(job.error ?? "no reason given"). "
                    + (vm.lastPoint.map { "Its newest recovery point is from \($0.formatted(.iso8601)). " } ?? "It has no recovery point. ")
                    + "`bulwark job show \(job.id)` has the log; the alert resolves when a sync succeeds",
                at: now)
        } else if vm.lastJob != nil {
            try await catalog.resolveAlerts(kind: .syncFailed, subject: subject, at: now)
        }

        if let job = vm.lastJob, job.state == .succeededWithWarnings {
            try await catalog.raiseAlert(
                kind: .jobWarnings, severity: .warning, subject: subject,
                message: "the last \(job.kind) of VM \(vm.reference) (job \(job.id)) ended with warnings: \(job.error ?? "see its log"). `bulwark job show \(job.id)` has the log; the alert resolves when a job of the VM ends cleanly",
                at: now)
        } else if vm.lastJob != nil {
            try await catalog.resolveAlerts(kind: .jobWarnings, subject: subject, at: now)
        }

        let interval = Self.expectedInterval(vm.policy)
        let since = vm.lastPoint ?? vm.joinedAt
        // Before the first point, a manual replica or one set for later owes nothing yet (a failed one raises
        // sync-failed instead).
        let owesPoint = vm.lastPoint != nil || vm.policy.replicaCreation == .now
        if owesPoint, now.timeIntervalSince(since) > 2 * interval {
            try await catalog.raiseAlert(
                kind: .syncOverdue, severity: .warning, subject: subject,
                message: "VM \(vm.reference) has "
                    + (vm.lastPoint.map { "had no successful sync since \($0.formatted(.iso8601))" }
                        ?? "no recovery point since it joined its group at \(vm.joinedAt.formatted(.iso8601))")
                    + ", more than twice its group's interval (\(Self.describe(interval))); check its host's agent and `bulwark jobs --vm \(vm.reference)`",
                at: now)
        } else {
            try await catalog.resolveAlerts(kind: .syncOverdue, subject: subject, at: now)
        }

        if vm.damagedPoints.isEmpty {
            try await catalog.resolveAlerts(kind: .recoveryPointDamaged, subject: subject, at: now)
        } else {
            try await catalog.raiseAlert(
                kind: .recoveryPointDamaged, severity: .critical, subject: subject,
                message: "\(vm.damagedPoints.count) recovery points of VM \(vm.reference) are damaged (\(vm.damagedPoints.prefix(5).joined(separator: ", "))"
                    + (vm.damagedPoints.count > 5 ? ", ..." : "") + "): they cannot be restored; the next sync stores the lost data again",
                at: now)
        }
    }

    /// bulwarkd's own latest job of a kind (prune, verify): failed or warned until the next one of the kind ends
    /// cleanly.
    private func judge(_ job: JobInfo, now: Date) async throws {
        let subject = "\(job.kind) jobs"
        let advice = "`bulwark job show \(job.id)` has the log; the alert resolves when the next \(job.kind) job ends cleanly"
        switch job.state {
        case .failed:
            try await catalog.raiseAlert(
                kind: .jobFailed, severity: .critical, subject: subject,
                message: "the last \(job.kind) job (\(job.id), \(job.subject)) failed: \(job.error ?? "no reason given"). \(advice)",
                at: now)
            try await catalog.resolveAlerts(kind: .jobWarnings, subject: subject, at: now)
        case .succeededWithWarnings:
            try await catalog.raiseAlert(
                kind: .jobWarnings, severity: .warning, subject: subject,
                message: "the last \(job.kind) job (\(job.id), \(job.subject)) ended with warnings: \(job.error ?? "see its log"). \(advice)",
                at: now)
            try await catalog.resolveAlerts(kind: .jobFailed, subject: subject, at: now)
        default:
            try await catalog.resolveAlerts(kind: .jobFailed, subject: subject, at: now)
            try await catalog.resolveAlerts(kind: .jobWarnings, subject: subject, at: now)
        }
    }

    /// An agent whose certificate runs out soon: a host that can no longer call in protects nothing.
    private func judge(_ agent: AgentInfo, now: Date) async throws {
        let subject = "agent \(agent.host)"
        guard let expiry = try? Certificate(pemEncoded: agent.certificatePEM).notValidAfter else { return }
        let left = expiry.timeIntervalSince(now)
        guard left < Self.certificateWarning else {
            try await catalog.resolveAlerts(kind: .agentCertificateExpiring, subject: subject, at: now)
            return
        }
        let when = left <= 0 ? "expired at" : "expires at"
        try await catalog.raiseAlert(
            kind: .agentCertificateExpiring, severity: left < 7 * 86_400 ? .critical : .warning, subject: subject,
            message: "the certificate of the agent on host \(agent.host) \(when) \(expiry.formatted(.iso8601)); after that the host can no longer call in and none of its VMs is backed up. Give it a new one: `bulwark agent token --host \(agent.host) --reenroll`, then `bulwark-agent enroll --force` on the host",
            at: now)
    }

    /// How long before an agent's certificate expires its alert opens.
    static let certificateWarning: TimeInterval = 30 * 86_400

    private func judge(_ datastore: DatastoreInfo, now: Date) async throws {
        let subject = "datastore \(datastore.name)"
        let path = datastore.path.path
        do {
            let store = try await datastores.reopen(at: path)
            guard store.chunkSize == datastore.chunkSize.bytes else {
                throw ServerError(
                    .dataDirectory,
                    "it has \(store.chunkSize)-byte chunks but the catalog records \(datastore.chunkSize): the folder was replaced")
            }
            try await catalog.resolveAlerts(kind: .datastoreUnavailable, subject: subject, at: now)
        } catch {
            try await catalog.raiseAlert(
                kind: .datastoreUnavailable, severity: .critical, subject: subject,
                message: "datastore \(datastore.name) at \(path) cannot be opened (\(error)); every sync, check and verify of it fails until it is back: mount its file system or restore the folder. Its recovery points stay in the catalog",
                at: now)
            return
        }
        guard let usage = space(datastore.path.path), usage.total > 0 else { return }
        let percent = Double(usage.used) / Double(usage.total) * 100
        guard percent >= 80 else {
            try await catalog.resolveAlerts(kind: .datastoreLowSpace, subject: subject, at: now)
            return
        }
        try await catalog.raiseAlert(
            kind: .datastoreLowSpace, severity: percent >= 95 ? .critical : .warning, subject: subject,
            message: "the file system of datastore \(datastore.name) (\(datastore.path.path)) is \(Int(percent))% full "
                + "(\(ByteCount.approximate(Int64(clamping: usage.total - usage.used))) free); shorten retention, run `bulwark gc`, or move it to a larger file system",
            at: now)
    }

    private func post(_ alert: AlertInfo) async {
        guard let webhook else { return }
        await postJSON(OperationRoutes.view(alert), to: webhook, what: "alert \(alert.id) (the alert webhook)", logger: logger)
    }

    /// How often a group's VMs should get a point: its sync frequency, or for `before-recovery-point` the longest
    /// gap between its recovery-point days.
    static func expectedInterval(_ policy: ProtectionPolicy) -> TimeInterval {
        if let seconds = policy.syncFrequency.intervalSeconds { return TimeInterval(seconds) }
        let days = policy.days.map(\.calendarWeekday).sorted()
        guard let first = days.first else { return 7 * 86_400 }
        let gaps = zip(days, days.dropFirst() + [first + 7]).map { $1 - $0 }
        return TimeInterval((gaps.max() ?? 7) * 86_400)
    }

    static func describe(_ interval: TimeInterval) -> String {
        interval >= 86_400 ? "\(Int(interval / 86_400)) days" : interval >= 3600 ? "\(Int(interval / 3600)) h" : "\(Int(interval / 60)) min"
    }

    /// `statvfs(3)` of the path: what a datastore's file system holds and has free.
    static let fileSystemSpace: SpaceProbe = { path in
        var info = statvfs()
        guard statvfs(path, &info) == 0, info.f_blocks > 0 else { return nil }
        let block = UInt64(info.f_frsize)
        let total = UInt64(info.f_blocks) * block
        return (total - UInt64(info.f_bavail) * block, total)
    }
}

/// Which alerts the monitor has posted.
actor PostedAlerts {
    private var ids = Set<AlertID>()

    func remember(_ alerts: [AlertID]) { ids.formUnion(alerts) }

    /// The open alerts not posted yet, now counted as posted.
    func unposted(_ open: [AlertInfo]) -> [AlertInfo] {
        let fresh = open.filter { !ids.contains($0.id) }.sorted { $0.raisedAt < $1.raisedAt }
        ids.formUnion(fresh.map(\.id))
        return fresh
    }
}
