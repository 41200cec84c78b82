public import BulwarkAPI
import BulwarkCore
import ChunkFormat
import Foundation
public import Libvirt
public import Logging

/// Runs one sync task end to end on this host: snapshot (checkpoint validation and a pull-mode backup job, or
/// qemu-nbd for a shut-off VM), transfer (only what changed, only what the datastore lacks) and commit.
///
/// The catalog row the server writes at commit is the only thing that makes a recovery point: whatever fails
/// before leaves no point, and the checkpoint chain the catalog trusts is left as it was.
public struct SyncRunner: Sendable {
    public let task: AgentTask
    public let host: String
    public let hypervisor: Hypervisor
    public let server: ServerConnection
    /// Scratch files and NBD sockets go in a folder of the task's own under this directory.
    public let scratchDirectory: String
    public let logger: Logger
    /// Shared by all tasks of this agent.
    public let vmLocks: VMLocks
    /// What earlier syncs learnt of each disk's chunks; `nil` hashes every chunk read.
    public let fingerprints: ChunkFingerprints?

    public init(
        task: AgentTask, host: String, hypervisor: Hypervisor, server: ServerConnection, scratchDirectory: String,
        logger: Logger, vmLocks: VMLocks, fingerprints: ChunkFingerprints? = nil
    ) {
        self.vmLocks = vmLocks
        self.fingerprints = fingerprints
        self.task = task
        self.host = host
        self.hypervisor = hypervisor
        self.server = server
        self.scratchDirectory = scratchDirectory
        self.logger = logger
    }

    /// How this sync reads the disks, and why.
    enum Mode: Sendable, Equatable {
        /// No earlier point: read every allocated block.
        case full
        /// Read only what the checkpoint's bitmaps mark as written since the base point.
        case incremental(checkpoint: String)
        /// Read every allocated block and compare with the base point; `reason` says why change tracking was not
        /// trusted.
        case consistencyCheck(reason: String)

        var syncKind: SyncKind {
            switch self {
            case .full: .full
            case .incremental: .incremental
            case .consistencyCheck: .consistencyCheck
            }
        }
    }

    /// Runs the task and tells the server how it ended: a commit on success, a finish otherwise. Never throws: every
    /// failure becomes the job's error.
    public func run() async {
        // One operation per VM on this host at a time: the server frees a VM at commit, while this task may still
        // be ending its backup job and pruning checkpoints.
        await vmLocks.acquire(task.vmUUID)
        defer { Task { [vmLocks, task] in await vmLocks.release(task.vmUUID) } }
        let reporter = TaskReporter(taskID: task.id, server: server, logger: logger)
        await reporter.start()
        let outcome: Result<AgentCommitResult, any Error>
        do {
            outcome = .success(try await sync(reporter: reporter))
        } catch {
            outcome = .failure(error)
        }
        await reporter.stop()
        switch outcome {
        case .success(let result):
            logger.info("sync committed recovery point \(result.pointID)", metadata: ["job": "\(task.id)"])
        case .failure(let error):
            await Self.finish(taskID: task.id, failure: error, server: server, logger: logger)
        }
    }

    /// Tells the server that task `taskID` ended without a commit: cancelled, or failed with `failure`'s message.
    static func finish(taskID: String, failure: any Error, server: ServerConnection, logger: Logger) async {
        let cancelled = (failure as? AgentError)?.code == .cancelled || failure is CancellationError
        let message = cancelled ? "cancelled" : "\(failure)"
        logger.error("sync failed: \(message)", metadata: ["job": "\(taskID)"])
        let finish = AgentTaskFinish(
            state: cancelled ? .cancelled : .failed, error: cancelled ? nil : message,
            transient: cancelled ? nil : Self.mayPass(failure))
        do {
            _ = try await Retry.transient("report the end of task \(taskID)", logger: logger) { () async throws(AgentError) in
                try await server.json(.POST, "/v1/agent/tasks/\(taskID)/finish", body: finish, as: JobView.self)
            }
        } catch {
            logger.error("cannot report the end of the task: \(error)", metadata: ["job": "\(taskID)"])
        }
    }

    /// Whether a later try of the whole task may succeed where this one failed: the server, libvirtd or a disk's
    /// NBD export went away (QEMU killed mid-read), as opposed to a refusal that would only fail again (the VM
    /// undefined, the datastore full, quiescing required and impossible).
    static func mayPass(_ failure: any Error) -> Bool {
        let passing: Set<LibvirtError.Code> = [.noConnect, .rpc, .systemError, .operationTimeout, .resourceBusy]
        if let error = failure as? LibvirtError { return passing.contains(error.code) }
        guard let error = failure as? AgentError else { return false }
        switch error.code {
        case .unreachable, .nbd, .chunkMissing: return true
        case .libvirt: return (error.cause as? LibvirtError).map { passing.contains($0.code) } ?? false
        default: return false
        }
    }

    /// What a VM is called in messages: its name, UUID and host.
    var subject: String { "VM \(task.vmName) (\(task.vmUUID.uuidString.lowercased())) on host \(host)" }

    func sync(reporter: TaskReporter) async throws -> AgentCommitResult {
        await reporter.enter(.snapshot)
        if task.startAt > Date() {
            try await Task.sleep(for: .seconds(task.startAt.timeIntervalSinceNow))
        }
        // Independent: libvirt on this host, the base indexes from the server.
        async let fetched = fetchBaseIndexes()
        let domain = try await inspectDomain()
        await reporter.log(.info, "\(task.command == .sync ? "sync" : "consistency check") of \(subject): "
            + "\(domain.isActive ? "running" : "shut off"), disks \(domain.disks.map(\.target).joined(separator: ", "))")
        let bases = try await fetched
        let mode = decideMode(domain: domain, bases: bases)
        if case .consistencyCheck(let reason) = mode {
            await reporter.log(.warning, "running a consistency check: \(reason)")
        }
        let directory = "\(scratchDirectory)/\(task.id)"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw AgentError(.local, "cannot make the scratch folder \(directory) for \(subject)", cause: error)
        }
        defer { try? FileManager.default.removeItem(atPath: directory) }

        if domain.isActive {
            return try await syncRunning(domain: domain, mode: mode, bases: bases, folder: directory, reporter: reporter)
        } else {
            return try await syncShutOff(domain: domain, mode: mode, bases: bases, folder: directory, reporter: reporter)
        }
    }

    /// The base point's index of every disk it holds.
    func fetchBaseIndexes() async throws -> [String: FixedIndex] {
        guard let base = task.base else { return [:] }
        var indexes: [String: FixedIndex] = [:]
        for disk in base.disks {
            let path = "/v1/agent/tasks/\(task.id)/base/\(disk.target)"
            let (_, bytes) = try await Retry.transient("fetch the base index of disk \(disk.target)", logger: logger) { () async throws(AgentError) in
                try await server.send(.GET, path, body: nil)
            }
            do {
                indexes[disk.target] = try FixedIndex(decoding: bytes, source: "the base index of disk \(disk.target)")
            } catch {
                throw AgentError(
                    .rejected, "the server sent a damaged base index for disk \(disk.target) of \(subject)", cause: error)
            }
        }
        return indexes
    }

    /// Decides between full, incremental and consistency check, from what the catalog says and what the host has.
    func decideMode(domain: DomainFacts, bases: [String: FixedIndex]) -> Mode {
        guard task.base != nil else { return .full }
        if task.command == .consistencyCheck { return .consistencyCheck(reason: "an administrator asked for one") }
        return trackedMode(domain: domain, bases: bases)
    }

    /// Incremental when change tracking can be trusted, otherwise a consistency check saying why; whatever the
    /// task asked for.
    func trackedMode(domain: DomainFacts, bases: [String: FixedIndex]) -> Mode {
        guard let base = task.base else { return .full }
        for disk in domain.disks {
            guard disk.format == "qcow2" else {
                return .consistencyCheck(reason: "disk \(disk.target) is \(disk.format), which has no change tracking")
            }
            guard let index = bases[disk.target] else {
                return .consistencyCheck(reason: "disk \(disk.target) is not in the previous point \(base.pointID)")
            }
            guard index.logicalSize == disk.capacity, index.chunkSize == task.chunkSize else {
                return .consistencyCheck(
                    reason: "disk \(disk.target) is \(disk.capacity) bytes; it was \(index.logicalSize) at point "
                        + "\(base.pointID) (resized)")
            }
        }
        guard let checkpoint = base.checkpoint else {
            return .consistencyCheck(reason: "the previous point \(base.pointID) has no checkpoint to start from")
        }
        guard domain.checkpoints.contains(checkpoint.name) || checkpoint.host != host else {
            return .consistencyCheck(
                reason: "checkpoint \(checkpoint.name) is missing from the domain (deleted outside Bulwark?)")
        }
        return .incremental(checkpoint: checkpoint.name)
    }

    /// The name of the checkpoint this sync creates.
    var newCheckpointName: String { "bulwark-\(task.id)" }
}

/// What the snapshot phase needs to know about the domain, read in one visit to libvirt.
struct DomainFacts: Sendable {
    struct Disk: Sendable {
        var target: String
        var format: String
        var path: String?
        var capacity: UInt64
    }

    var isActive: Bool
    var xml: String
    var disks: [Disk]
    /// Names of the domain's checkpoints, oldest first.
    var checkpoints: [String]
}

extension SyncRunner {
    func inspectDomain() async throws -> DomainFacts {
        let uuid = task.vmUUID.uuidString.lowercased()
        let subject = subject
        do {
            return try await hypervisor.run { connection in
                let domain: Domain
                do {
                    domain = try connection.domain(uuid: uuid)
                } catch let error as LibvirtError where error.code == .noDomain {
                    throw AgentError(
                        .libvirt,
                        "\(subject) is not defined on this host any more (undefined or moved away while protected); "
                            + "remove it from its group or wait for the inventory to show where it went",
                        cause: error)
                }
                let description = try domain.description()
                let disks = try description.protectableDisks.map { disk in
                    DomainFacts.Disk(
                        target: disk.target, format: disk.format ?? "raw", path: disk.sourcePath,
                        capacity: try domain.blockInfo(disk.target).capacity)
                }
                guard !disks.isEmpty else {
                    throw AgentError(.libvirt, "\(subject) has no disk Bulwark can back up")
                }
                return DomainFacts(
                    isActive: try domain.state().isActive, xml: try domain.xml(inactive: true), disks: disks,
                    checkpoints: try domain.checkpoints().map(\.name))
            }
        } catch let error as AgentError {
            throw error
        } catch {
            throw AgentError(.libvirt, "cannot read \(subject) from libvirt: \(error)", cause: error)
        }
    }
}
