import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Hummingbird
import Logging
import NIOCore
import X509

/// `/v1/agent/…`: what agents call, behind ``AgentAuthMiddleware`` (see `AgentProtocol.swift` for the wire).
///
/// Every task route first checks that the task is the calling host's (another host's task is answered as
/// missing) and that it is still running (409 otherwise: cancelled, failed as orphaned, or ended), so an agent
/// that lost a task cannot change it.
struct AgentRoutes {
    let catalog: Catalog
    let datastores: Datastores
    /// Signs the certificates agents renew.
    let ca: CertificateAuthority
    let uploads: TaskUploadLedger
    let taskSignal: TaskSignal
    let limits: JobLimits
    let retry: RetryPolicy
    let restores = PointDigestLedger()
    let bases = PointDigestLedger()
    let runningTasks = RunningTaskCache()

    /// The longest an agent's poll for a task may wait.
    static let maximumWait = 60
    static let defaultWait = 30
    /// How often a waiting poll looks at the queue.
    static let pollInterval: Duration = .milliseconds(250)
    /// The most digests one chunk query may ask about.
    static let maximumQuery = 4096
    /// Commits carry one index per disk, base64: 32 bytes per chunk, so a 1 TiB disk in 4 MiB chunks is 11 MiB.
    static let maximumCommitSize = 64 << 20
    /// Status reports (with their log lines), chunk queries and finish reports.
    static let maximumReportSize = 4 << 20
    /// Inventory reports list every VM of a host with its disks.
    static let maximumInventorySize = 8 << 20

    func register(on group: RouterGroup<BulwarkRequestContext>) {
        registerRestore(on: group)
        group.get("ping") { _, context in
            AgentPing(host: try Self.host(context), serverTime: Date())
        }
        // A host renews its own certificate with the current one: the name is the certificate's, never the body's.
        group.post("certificate") { request, context in
            let host = try Self.host(context)
            let body = try await Self.decode(
                AgentCertificateRenewal.self, request, context, limit: 64 << 10, what: "a certificate renewal")
            let certificate: Certificate
            do {
                certificate = try ca.issueAgentCertificate(csrPEM: body.csr, host: host)
            } catch let error as ServerError {
                throw APIError.invalid(error.message)
            }
            let pem = try certificate.serializeAsPEM().pemString
            try await catalog.renewAgentCertificate(
                host: host, certificateFingerprint: try CertificateAuthority.fingerprint(of: certificate), certificatePEM: pem)
            context.logger.notice("agent renewed its certificate", metadata: ["host": "\(host)"])
            return EnrollmentResponse(certificate: pem, caCertificate: try ca.certificatePEM(), host: host)
        }
        group.post("inventory") { request, context in
            let report = try await Self.decode(
                AgentInventoryReport.self, request, context, limit: Self.maximumInventorySize, what: "the inventory report")
            let host = try Self.host(context)
            let change = try await catalog.replaceInventory(host: host, vms: try report.vms.map(Self.reported))
            return AgentInventoryResult(
                added: change.arrived.count, updated: report.vms.count - change.arrived.count,
                removed: change.missing.count + change.forgotten.count)
        }
        group.get("tasks/next") { request, context in
            try await next(request, context)
        }
        group.get("tasks/:id/base/:target") { _, context in
            let (task, _) = try await runningTask(context)
            let target = try context.parameters.require("target")
            guard let base = task.base else {
                throw APIError.notFound(
                    "task \(task.job.id) has no base point: VM \(task.vmName) has no committed point in datastore \(task.datastore); sync it in full")
            }
            let path = task.datastorePath.path
            let point = RecoveryPointRef(vm: task.vmUUID, point: base.point.id)
            let bytes: [UInt8]
            do {
                bytes = try await datastores.withStore(at: path) { try $0.readIndex(point, disk: target).encoded() }
            } catch let error as DatastoreError where error.code != .diskNotFound && error.code != .io {
                throw APIError.conflict(
                    "the base point \(base.point.id) cannot be read from datastore \(task.datastore): \(error.message)")
            }
            return Response(
                status: .ok, headers: [.contentType: "application/octet-stream"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        group.post("tasks/:id/status") { request, context in
            let (task, host) = try await runningTask(context)
            let report = try await Self.decode(
                AgentTaskStatus.self, request, context, limit: Self.maximumReportSize, what: "a status report")
            let status = TaskStatus(
                phase: report.phase,
                progress: report.progress.map {
                    TaskProgress(bytesTotal: $0.bytesTotal, bytesScanned: $0.bytesScanned, bytesSent: $0.bytesSent)
                },
                log: try report.log.map { line in
                    guard let level = JobLogLevel(rawValue: line.level) else {
                        throw APIError.invalid(
                            "log level '\(line.level)' is not one of \(JobLogLevel.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    return TaskStatus.Line(time: line.time, level: level, message: line.message)
                })
            let cancel = try await catalog.recordTaskStatus(id: task.job.id, host: host, status)
            return AgentTaskControl(cancelRequested: cancel)
        }
        group.post("tasks/:id/chunks/query") { request, context in
            let (task, _) = try await runningTask(context, cached: true)
            let query = try await Self.decode(
                ChunkQuery.self, request, context, limit: Self.maximumReportSize, what: "a chunk query")
            guard query.digests.count <= Self.maximumQuery else {
                throw APIError.invalid(
                    "a chunk query asks about \(query.digests.count) digests; ask about at most \(Self.maximumQuery) at a time")
            }
            let digests = try query.digests.map(Self.digest)
            let path = task.datastorePath.path
            let job = task.job.id.description
            let known = try await knownDigests(task)
            let missing = try await datastores.withStore(at: path) { store in
                var seen = Set<ChunkDigest>()
                // Present only what this VM's base point or this task holds (never another VM's chunks: no oracle),
                // and refresh each hit's time so garbage collection keeps it until the commit names it.
                return digests.filter { digest in
                    guard seen.insert(digest).inserted, digest != store.zeroDigest else { return false }
                    if store.hasStagedChunk(digest, job: job) { return false }
                    return !(known.contains(digest) && store.refreshChunk(digest))
                }.map(\.description)
            }
            return ChunkQueryResult(missing: missing)
        }
        group.put("tasks/:id/chunks/:digest") { request, context in
            let (task, _) = try await runningTask(context, cached: true)
            try Self.requireSync(task)
            let digest = try Self.digest(try context.parameters.require("digest"))
            let path = task.datastorePath.path
            let store = try await datastores.store(at: path)
            let file = try await Self.collect(
                request, limit: store.maximumChunkFileSize,
                what: "a chunk file of datastore \(task.datastore) (\(store.chunkSize)-byte chunks)")
            let result: ChunkWriteResult
            do {
                let job = task.job.id.description
                result = try await datastores.blocking { try store.stageEncodedChunk(file, digest: digest, job: job) }
            } catch let error as DatastoreError where [.digestMismatch, .chunkCorrupt].contains(error.code) {
                throw APIError(.badRequest, code: error.code.rawValue, message: error.message)
            }
            if result.isNew {
                await uploads.add(result.storedBytes, for: task.job.id)
                await datastores.uploadInBackground(file, digest: digest, job: task.job.id, at: path)
            }
            // The same answer whether the datastore had the chunk or not: an agent learns nothing about other VMs'
            // data from an upload either.
            return Response(status: .created)
        }
        group.post("tasks/:id/commit") { request, context in
            let (task, host) = try await runningTask(context)
            try Self.requireSync(task)
            guard !task.cancelRequested else {
                throw APIError.cancelled(
                    "task \(task.job.id) was cancelled by an admin, so its point is not recorded; finish the task as cancelled")
            }
            let commit = try await Self.decode(
                AgentCommit.self, request, context, limit: Self.maximumCommitSize, what: "the commit")
            let committed = try await self.commit(commit, task: task, host: host, logger: Self.logger(context, task))
            // The commit ends the task.
            await runningTasks.forget(task.job.id)
            await bases.forget(task.job.id)
            return committed
        }
        group.post("tasks/:id/finish") { request, context in
            let (task, host) = try await runningTask(context)
            let finish = try await Self.decode(
                AgentTaskFinish.self, request, context, limit: Self.maximumReportSize, what: "a finish report")
            let job = try await catalog.finishTask(
                id: task.job.id, host: host, state: finish.state, error: finish.error,
                transient: finish.transient ?? false, retry: retry)
            await uploads.forget(task.job.id)
            await restores.forget(task.job.id)
            await bases.forget(task.job.id)
            await runningTasks.forget(task.job.id)
            await Self.notify(job, of: task, logger: Self.logger(context, task))
            await datastores.jobEnded(task.job.id, vm: task.vmUUID, at: task.datastorePath.path, logger: Self.logger(context, task))
            Self.logger(context, task).info("task ended", metadata: ["state": "\(job.state)", "error": "\(job.error ?? "")"])
            return Response(status: .noContent)
        }
    }

    /// `GET tasks/next`: fails this host's tasks its agent no longer runs, then waits up to `wait` seconds for a
    /// task to claim.
    func next(_ request: Request, _ context: BulwarkRequestContext) async throws -> Response {
        let host = try Self.host(context)
        var wait = Self.defaultWait
        if let text = request.uri.queryParameters["wait"] {
            guard let seconds = Int(text), (0...Self.maximumWait).contains(seconds) else {
                throw APIError.invalid("wait '\(text)' is not a number of seconds from 0 to \(Self.maximumWait)")
            }
            wait = seconds
        }
        var running = Set<JobID>()
        for text in (request.uri.queryParameters["running"] ?? "").split(separator: ",") {
            guard let id = JobID(String(text)) else {
                throw APIError.invalid("running task id '\(text)' is not a job id; list the ids of the tasks the agent runs")
            }
            running.insert(id)
        }
        let orphans = try await catalog.failOrphanedTasks(host: host, running: running, retry: retry)
        // Their chunks count for their VMs' next syncs, which may be claimed in this very poll.
        await datastores.jobsEnded(orphans, logger: context.logger)
        for orphan in orphans {
            if orphan.state == .failed {
                await uploads.forget(orphan.id)
                await restores.forget(orphan.id)
                await bases.forget(orphan.id)
                context.logger.warning("the agent no longer runs its task; failed it", metadata: ["job": "\(orphan.id)"])
            } else {
                context.logger.notice("the task never reached the agent; queued it again", metadata: ["job": "\(orphan.id)"])
            }
        }
        // In the background: a slow --notify URL must not hold up the agent's poll.
        Task { [catalog, logger = context.logger] in
            await Self.notifyFailedRestores(orphans, catalog: catalog, logger: logger)
        }
        let deadline = ContinuousClock.now + .seconds(wait)
        while true {
            if let task = try await catalog.claimTask(host: host, limits: limits) {
                if let assignment = try await assignment(task, context) {
                    return try context.responseEncoder.encode(assignment, from: request, context: context)
                }
                continue
            }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return Response(status: .noContent) }
            await taskSignal.wait(upTo: min(left, Self.pollInterval))
            try Task.checkCancellation()
        }
    }

    /// The wire form of a claimed task; nil when its datastore cannot serve it, in which case the task is failed
    /// with the reason and the poll goes on.
    func assignment(_ task: TaskInfo, _ context: BulwarkRequestContext) async throws -> AgentTask? {
        let logger = Self.logger(context, task)
        let path = task.datastorePath.path
        let store: Datastore
        do {
            store = try await datastores.reopen(at: path)
            guard store.chunkSize == task.chunkSize else {
                throw ServerError(
                    .dataDirectory,
                    "the datastore at \(path) has \(store.chunkSize)-byte chunks but the catalog records \(task.chunkSize); the folder was replaced")
            }
        } catch {
            let reason = "datastore \(task.datastore) cannot be opened: \(error)"
            logger.error("cannot start the task: \(reason)")
            _ = try await catalog.finishTask(id: task.job.id, host: task.host ?? "", state: .failed, error: reason)
            return nil
        }
        if task.parameters.command == .restore {
            do {
                let restore = try await restoreAssignment(task, store: store)
                logger.info("restore claimed", metadata: ["vm": "\(task.vmName)", "point": "\(restore.pointID)"])
                return AgentTask(
                    id: task.job.id.description, command: .restore, vmUUID: task.vmUUID, vmName: task.vmName,
                    requestedAt: task.job.createdAt, startAt: task.job.startAt ?? task.job.createdAt,
                    chunkSize: task.chunkSize, quiesce: .auto, expressFull: false, base: nil, restore: restore)
            } catch {
                let reason = "the point to restore cannot be read from datastore \(task.datastore): \(error)"
                logger.error("cannot start the restore: \(reason)")
                let job = try await catalog.finishTask(id: task.job.id, host: task.host ?? "", state: .failed, error: reason)
                await Self.notify(job, of: task, logger: logger)
                return nil
            }
        }
        var base: AgentTask.Base?
        if let point = task.base {
            let reference = RecoveryPointRef(vm: task.vmUUID, point: point.point.id)
            do {
                let manifest = try await datastores.blocking { try store.readManifest(reference) }
                base = AgentTask.Base(
                    pointID: point.point.id.description,
                    disks: manifest.disks.map { AgentTask.BaseDisk(target: $0.target, logicalSize: $0.logicalSize) },
                    checkpoint: point.checkpoint.map { AgentTask.CheckpointRecord(name: $0.name, host: $0.host, xml: $0.xml) })
            } catch {
                // Without the base the sync reads every allocated block: slower, never wrong.
                let reason = "the previous point \(point.point.id) cannot be read (\(error)); this sync runs in full"
                logger.warning("\(reason)")
                _ = try? await catalog.appendJobLog(id: task.job.id, level: .warning, message: reason)
            }
        }
        logger.info("task claimed", metadata: ["vm": "\(task.vmName)", "base": "\(base?.pointID ?? "none")"])
        return AgentTask(
            id: task.job.id.description, command: task.parameters.command == .sync ? .sync : .consistencyCheck,
            vmUUID: task.vmUUID, vmName: task.vmName, requestedAt: task.job.createdAt, startAt: task.job.startAt ?? task.job.createdAt,
            chunkSize: task.chunkSize, quiesce: task.parameters.quiesce, expressFull: task.parameters.expressFull,
            base: base)
    }

    /// The task named in the path, when it is the calling host's and running, and the calling host.
    ///
    /// With `cached`, a task loaded for the same host in the last second is taken as it was
    /// (``RunningTaskCache``): for the routes called once per chunk, which neither change the task nor read what may
    /// change while it runs.
    func runningTask(_ context: BulwarkRequestContext, cached: Bool = false) async throws -> (TaskInfo, String) {
        let host = try Self.host(context)
        let id = try JobID(parsing: try context.parameters.require("id"))
        let task =
            cached
            ? try await runningTasks.task(id: id, host: host) { [catalog] in try await catalog.runningTask(id: id, host: host) }
            : try await catalog.runningTask(id: id, host: host)
        // Any call about the task shows the claim reached the agent: from now on losing it fails it.
        if !task.acknowledged { try await catalog.acknowledgeTask(id: id, host: host) }
        return (task, host)
    }

    // MARK: - Helpers

    /// Uploads and commits belong to syncs: a restore reads a point and must never make one.
    static func requireSync(_ task: TaskInfo) throws {
        guard task.parameters.command != .restore else {
            throw APIError.conflict("task \(task.job.id) is a restore: it uploads nothing and ends with POST …/complete")
        }
    }

    static func host(_ context: BulwarkRequestContext) throws -> String {
        guard let host = context.agentHost else {
            // Only reachable if a route were registered without the middleware.
            throw APIError.agentUnauthorized("this call has no agent identity")
        }
        return host
    }

    static func logger(_ context: BulwarkRequestContext, _ task: TaskInfo) -> Logger {
        var logger = context.logger
        logger[metadataKey: "job"] = .string(task.job.id.description)
        return logger
    }

    /// A digest as the wire writes it: 64 hex digits.
    static func digest(_ text: String) throws -> ChunkDigest {
        guard let digest = ChunkDigest(text) else {
            throw APIError.invalid("'\(text.prefix(80))' is not a chunk digest; a digest is the SHA-256 of the chunk's plain bytes in 64 hex digits")
        }
        return digest
    }

    static func reported(_ vm: AgentInventoryReport.VM) throws -> ReportedVM {
        let state = VMState(rawValue: vm.state)
        guard reportableStates.contains(state) else {
            throw APIError.invalid(
                "VM '\(vm.name)' has state '\(vm.state)'; report one of \(reportableStates.map(\.rawValue).sorted().joined(separator: ", "))")
        }
        return ReportedVM(
            uuid: vm.uuid, name: vm.name, state: state, guestAgentAnswering: vm.guestAgentAnswering,
            disks: vm.disks.map { VMDisk(target: $0.target, format: $0.format, capacityBytes: $0.capacityBytes, path: $0.path) })
    }

    /// libvirt's domain states; `missing` is the server's own word for a VM no host reports.
    static let reportableStates: Set<VMState> = [
        .running, .blocked, .paused, .shuttingDown, .shutOff, .crashed, .suspended, .unknown,
    ]

    /// The request body, at most `limit` bytes (413 beyond, naming what was sent).
    ///
    /// The bytes are copied once, into an array sized from `Content-Length` (when it is within the limit) up front:
    /// chunk uploads are megabytes, and growing a buffer as parts arrive copied each one several times over.
    static func collect(_ request: Request, limit: Int, what: String) async throws -> [UInt8] {
        let tooLarge = APIError(
            .contentTooLarge, code: "too-large", message: "the request body is larger than \(what) may be (\(limit) bytes)")
        let declared = request.headers[.contentLength].flatMap { Int($0) } ?? 0
        if declared > limit { throw tooLarge }
        var bytes = [UInt8]()
        bytes.reserveCapacity(max(0, declared))
        for try await part in request.body {
            guard bytes.count + part.readableBytes <= limit else { throw tooLarge }
            bytes.append(contentsOf: part.readableBytesView)
        }
        return bytes
    }

    /// A JSON body of up to `limit` bytes, decoded with the API's date format.
    static func decode<Value: Decodable>(
        _ type: Value.Type, _ request: Request, _ context: BulwarkRequestContext, limit: Int, what: String
    ) async throws -> Value {
        let body = try await collect(request, limit: limit, what: what)
        return try context.requestDecoder.decode(Value.self, from: Data(body))
    }
}
