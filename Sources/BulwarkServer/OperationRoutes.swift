import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import Crypto
import Foundation
import Hummingbird

/// `/v1/jobs`, `/v1/alerts` and `/v1/agents`.
struct OperationRoutes {
    let catalog: Catalog
    /// Notified whenever a job changes in the catalog, through ``jobObservation``.
    let jobChanges = TaskSignal()
    /// Kept for as long as the routes are: the router's handlers hold them.
    let jobObservation: CatalogObservation

    init(catalog: Catalog) {
        self.catalog = catalog
        let jobChanges = jobChanges
        jobObservation = catalog.observeJobChanges { Task { await jobChanges.notify() } }
    }

    /// The longest `GET /v1/jobs/{id}?wait=` a client may ask for: long enough to spare a follower most of its
    /// polls, short enough that a proxy or a fuzzer never holds a request for long.
    static let maximumJobWait = 10.0

    func register(on group: RouterGroup<BulwarkRequestContext>) {
        group.get("jobs") { request, _ in
            var filter = JobFilter()
            filter.activeOnly = request.uri.queryParameters["running"] == "true"
            if let vm = request.uri.queryParameters["vm"] {
                filter.vmUUID = try await catalog.resolveVM(try VMReference(parsing: String(vm))).uuid
            }
            if let group = request.uri.queryParameters["group"] {
                filter.group = try ResourceName(String(group), field: "--group")
            }
            if let text = request.uri.queryParameters["state"] {
                var states = Set<JobState>()
                for name in text.split(separator: ",") {
                    guard let state = JobState(rawValue: String(name)) else {
                        throw APIError.invalid(
                            "job state '\(name)' is not one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    states.insert(state)
                }
                filter.states = states
            }
            return try await catalog.jobs(filter).map { Self.view($0) }
        }
        group.get("jobs/:id") { request, context in
            let id = try JobID(parsing: try context.parameters.require("id"))
            let wait = try Self.jobWait(request.uri.queryParameters["wait"].map(String.init))
            // With `wait`, answer as soon as the job has ended, or when the time is up. The signal's generation is
            // read before the job, so an end committed in between wakes the wait at once.
            let deadline = ContinuousClock.now + wait
            var seen = await jobChanges.generation
            var detail = try await catalog.job(id: id)
            while !detail.job.state.isFinished, case let left = deadline - .now, left > .zero {
                await jobChanges.wait(upTo: left, after: seen)
                seen = await jobChanges.generation
                detail = try await catalog.job(id: id)
            }
            return Self.view(
                detail.job, log: detail.log.map { .init(time: $0.time, level: $0.level.rawValue, message: $0.message) })
        }
        group.get("alerts") { request, _ in
            let all = request.uri.queryParameters["all"] == "true"
            return try await catalog.alerts(includeResolved: all).map(Self.view)
        }
        // `POST /v1/agents/tokens` is in EnrollmentRoutes: the token carries the CA's fingerprint.
        group.get("agents") { _, _ in try await catalog.agents().map { Self.view($0) } }
        group.get("agents/:host") { _, context in
            Self.view(try await catalog.agent(host: try context.parameters.require("host")))
        }
        group.delete("agents/:host") { _, context in
            let host = try context.parameters.require("host")
            let agent = try await catalog.agent(host: host)
            _ = try await catalog.removeAgent(host: host)
            return Self.view(agent)
        }
    }

    /// The `wait` of a job request: seconds, 0 to ``maximumJobWait``; none is 0.
    static func jobWait(_ text: String?) throws -> Duration {
        guard let text else { return .zero }
        guard let seconds = Double(text), seconds.isFinite, seconds >= 0, seconds <= maximumJobWait else {
            throw APIError.invalid(
                "wait '\(text)' is not a number of seconds from 0 to \(Int(maximumJobWait)); use for example wait=0.5")
        }
        return .milliseconds(Int((seconds * 1000).rounded()))
    }

    static func view(_ info: JobInfo, log: [JobView.LogLine]? = nil) -> JobView {
        JobView(
            id: info.id.description, kind: info.kind.rawValue, subject: info.subject, state: info.state, phase: info.phase,
            createdAt: info.createdAt, startedAt: info.startedAt, endedAt: info.endedAt, error: info.error,
            progress: info.progress, vm: info.vmUUID,
            bytes: info.bytes.map {
                JobProgress(bytesTotal: $0.bytesTotal, bytesScanned: $0.bytesScanned, bytesSent: $0.bytesSent)
            },
            recoveryPoint: info.recoveryPointID?.description, log: log, startAt: info.startAt, attempt: info.attempt,
            retryOf: info.retryOf?.description)
    }

    static func view(_ info: AlertInfo) -> AlertView {
        AlertView(
            id: info.id.description, kind: info.kind.rawValue, severity: info.severity.rawValue, subject: info.subject,
            message: info.message, raisedAt: info.raisedAt, resolvedAt: info.resolvedAt)
    }

    static func view(_ info: AgentInfo) -> AgentView {
        AgentView(
            host: info.host, certificateFingerprint: info.certificateFingerprint, enrolledAt: info.enrolledAt,
            lastSeenAt: info.lastSeenAt, vmCount: info.vmCount)
    }
}
