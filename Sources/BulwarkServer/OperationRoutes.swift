import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import Crypto
import Foundation
import Hummingbird

/// `/v1/jobs`, `/v1/alerts` and `/v1/agents`.
struct OperationRoutes {
    let catalog: Catalog

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
        group.get("jobs/:id") { _, context in
            let id = try JobID(parsing: try context.parameters.require("id"))
            let detail = try await catalog.job(id: id)
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
