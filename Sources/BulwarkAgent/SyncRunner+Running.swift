import BulwarkAPI
import BulwarkCore
import ChunkFormat
import Foundation
import Libvirt

extension SyncRunner {
    /// A running VM: a pull-mode backup job with a new checkpoint, read over NBD, ended whatever happens.
    func syncRunning(
        domain: DomainFacts, mode initialMode: Mode, bases: [String: FixedIndex], folder: String,
        reporter: TaskReporter
    ) async throws -> AgentCommitResult {
        var mode = initialMode
        let uuid = task.vmUUID.uuidString.lowercased()
        if case .incremental(let name) = mode, !domain.checkpoints.contains(name),
            let record = task.base?.checkpoint
        {
            // The VM moved: the checkpoint's bitmaps travelled with the disk, its libvirt metadata did not.
            do {
                try await hypervisor.run { connection in
                    _ = try connection.domain(uuid: uuid).redefineCheckpoint(xml: record.xml, validate: true)
                }
                await reporter.log(.info, "redefined checkpoint \(name) from the catalog (made on host \(record.host))")
            } catch {
                mode = .consistencyCheck(
                    reason: "checkpoint \(name), made on host \(record.host), cannot be redefined here: \(error)")
                await reporter.log(.warning, "running a consistency check: \(mode.reason ?? "")")
            }
        }
        if case .incremental = mode {} else {
            // An admin's check of a sound chain leaves its checkpoint until the check's point commits (the pruning
            // after every commit removes it then): a check that fails keeps the chain, and the next sync stays
            // incremental. A chain that is not sound is stale now.
            var soundChain = false
            if case .incremental(let name) = trackedMode(domain: domain, bases: bases) {
                soundChain = domain.checkpoints.contains(name)
            }
            if !soundChain { await removeBulwarkCheckpoints(keeping: nil, reporter: reporter) }
            await removeStaleBitmaps(domain: domain, reporter: reporter)
        }
        try await endStaleBackupJob(reporter: reporter)
        let quiesce = try await shouldQuiesce(reporter: reporter)
        let socket = "\(folder)/nbd.sock"
        let targets = domain.disks.map(\.target)
        let checkpoint: CheckpointDefinition? =
            domain.disks.allSatisfy { $0.format == "qcow2" }
            ? CheckpointDefinition(name: newCheckpointName, description: "Bulwark job \(task.id)", bitmapDisks: targets)
            : nil
        func definition(_ mode: Mode) -> BackupDefinition {
            var incremental: String?
            if case .incremental(let name) = mode { incremental = name }
            return BackupDefinition(
                incremental: incremental, socketPath: socket,
                disks: targets.map { .init(name: $0, scratchFile: "\(folder)/\($0).scratch.qcow2", exportName: $0) })
        }

        var consistency: Consistency = quiesce ? .applicationConsistent : .crashConsistent
        do {
            consistency = try await beginBackup(
                definition(mode), checkpoint: checkpoint, quiesce: quiesce, reporter: reporter)
        } catch let error as LibvirtError where error.code == .checkpointInconsistent {
            // QEMU was killed or the host crashed since the last sync: the bitmaps cannot be trusted.
            mode = .consistencyCheck(
                reason: "the bitmaps of checkpoint \(mode.checkpointName ?? "?") are inconsistent (QEMU stopped "
                    + "without saving them: killed, or the host crashed)")
            await reporter.log(.warning, "running a consistency check: \(mode.reason ?? "")")
            await removeBulwarkCheckpoints(keeping: nil, reporter: reporter)
            await removeStaleBitmaps(domain: domain, reporter: reporter)
            consistency = try await beginBackup(
                definition(mode), checkpoint: checkpoint, quiesce: quiesce, reporter: reporter)
        }
        await reporter.log(
            .info, "backup job started (\(mode.syncKind), \(consistency)\(checkpoint.map { ", checkpoint \($0.name)" } ?? ""))")

        let result: AgentCommitResult
        do {
            let exports = try await hypervisor.run { connection in
                try connection.domain(uuid: uuid).backupDescription()
            }
            var indexes: [String: FixedIndex] = [:]
            let uploader = ChunkUploader(server: server, taskID: task.id, known: Set(bases.values.flatMap(\.digests)), logger: logger)
            await reporter.enter(.transfer)
            let plans = try await planDisks(
                domain.disks.map { disk in
                    let export = exports.disks.first { $0.name == disk.target }
                    return DiskSource(
                        target: disk.target, capacity: disk.capacity,
                        endpoint: .unix(path: socket, export: export?.exportName ?? disk.target),
                        bitmap: export?.exportBitmap)
                }, mode: mode, bases: bases, reporter: reporter)
            var memos: [String: FingerprintMemo] = [:]
            let transferred = try await transfer(plans, uploader: uploader, reporter: reporter)
            for (plan, disk) in zip(plans, transferred) {
                indexes[plan.source.target] = disk.index
                memos[plan.source.target] = disk.memo
            }
            var record: AgentTask.CheckpointRecord?
            if let checkpoint {
                let xml = try await hypervisor.run { connection in
                    try connection.domain(uuid: uuid).checkpoint(named: checkpoint.name).redefinableXML()
                }
                record = AgentTask.CheckpointRecord(name: checkpoint.name, host: host, xml: xml)
            }
            result = try await commit(
                mode: mode, consistency: consistency, domainXML: domain.xml, indexes: indexes, checkpoint: record,
                uploader: uploader, reporter: reporter)
            await keep(memos)
        } catch {
            await endBackupJob(reporter: reporter)
            // The catalog still trusts the previous checkpoint; deleting the new one merges its bitmaps back into
            // it, so the next incremental still covers every write since the last point.
            if let checkpoint { await deleteCheckpoint(checkpoint.name, reporter: reporter) }
            throw error
        }
        await endBackupJob(reporter: reporter)
        if let checkpoint { await removeBulwarkCheckpoints(keeping: checkpoint.name, reporter: reporter) }
        return result
    }

    /// Whether to freeze the guest: per the policy and whether its guest agent answers.
    func shouldQuiesce(reporter: TaskReporter) async throws -> Bool {
        if task.quiesce == .never { return false }
        let uuid = task.vmUUID.uuidString.lowercased()
        let answering = (try? await hypervisor.run { connection in
            try connection.domain(uuid: uuid).isGuestAgentAnswering(timeout: 10)
        }) ?? false
        if answering { return true }
        if task.quiesce == .required {
            throw AgentError(
                .quiesceRequired,
                "the QEMU guest agent of \(subject) does not answer, and the group's policy is --quiesce required: "
                    + "install and start qemu-guest-agent in the guest (with an org.qemu.guest_agent.0 channel in the "
                    + "domain), or set --quiesce auto to accept crash-consistent points")
        }
        await reporter.log(.warning, "the guest agent does not answer: the point will be crash-consistent")
        return false
    }

    /// Begins the backup job; with `quiesce`, an agent that stops answering at the freeze gives a crash-consistent
    /// job under `auto` and a failure under `required`. Returns the consistency the job got.
    func beginBackup(
        _ definition: BackupDefinition, checkpoint: CheckpointDefinition?, quiesce: Bool, reporter: TaskReporter
    ) async throws -> Consistency {
        let uuid = task.vmUUID.uuidString.lowercased()
        do {
            try await hypervisor.run { connection in
                try connection.domain(uuid: uuid).beginBackup(definition, checkpoint: checkpoint, quiesce: quiesce)
            }
            return quiesce ? .applicationConsistent : .crashConsistent
        } catch let error as LibvirtError
            where quiesce && (error.code == .agentUnresponsive || error.code == .agentUnsynced)
        {
            if task.quiesce == .required {
                throw AgentError(
                    .quiesceRequired,
                    "cannot freeze \(subject) through its guest agent (\(error.message)), and the policy is "
                        + "--quiesce required: check qemu-guest-agent in the guest, or set --quiesce auto", cause: error)
            }
            await reporter.log(.warning, "freezing the guest failed (\(error.message)): taking a crash-consistent point")
            try await hypervisor.run { connection in
                try connection.domain(uuid: uuid).beginBackup(definition, checkpoint: checkpoint, quiesce: false)
            }
            return .crashConsistent
        } catch let error as LibvirtError where error.code == .checkpointInconsistent {
            throw error
        } catch {
            throw AgentError(.libvirt, "cannot start the backup job of \(subject): \(error)", cause: error)
        }
    }

    /// Ends a backup job an earlier run of this agent left behind (it was killed mid-sync): QEMU keeps such a job,
    /// and its export, until someone aborts it. A job that is not Bulwark's is left alone and named in the error.
    func endStaleBackupJob(reporter: TaskReporter) async throws {
        let uuid = task.vmUUID.uuidString.lowercased()
        let scratch = scratchDirectory
        let stale: String? = try await hypervisor.run { connection in
            let domain = try connection.domain(uuid: uuid)
            guard let stats = try? domain.jobStats(), stats.isActive else { return nil }
            guard stats.isBackup, let description = try? domain.backupDescription(),
                description.socketPath?.hasPrefix(scratch + "/") == true
            else {
                throw AgentError(
                    .libvirt,
                    "another job (not Bulwark's) is running on the domain; wait for it to end or abort it "
                        + "(`virsh domjobabort`), then sync again")
            }
            try domain.abortJob()
            return description.socketPath
        }
        if let stale {
            await reporter.log(.warning, "ended a backup job an earlier agent run left on the domain (export \(stale))")
        }
    }

    /// Ends the pull-mode job (libvirt removes the scratch files and closes the export).
    func endBackupJob(reporter: TaskReporter) async {
        let uuid = task.vmUUID.uuidString.lowercased()
        do {
            try await hypervisor.run { connection in try connection.domain(uuid: uuid).abortJob() }
        } catch {
            await reporter.log(.warning, "ending the backup job of \(subject) failed: \(error)")
        }
    }

    /// Deletes one checkpoint, falling back to forgetting its metadata when its bitmaps are gone or broken.
    func deleteCheckpoint(_ name: String, reporter: TaskReporter) async {
        let uuid = task.vmUUID.uuidString.lowercased()
        do {
            try await hypervisor.run { connection in
                let checkpoint = try connection.domain(uuid: uuid).checkpoint(named: name)
                do {
                    try checkpoint.delete()
                } catch {
                    try checkpoint.delete(metadataOnly: true)
                }
            }
        } catch let error as LibvirtError where error.code == .noCheckpoint {
            // Already gone.
        } catch {
            await reporter.log(.warning, "cannot delete checkpoint \(name) of \(subject): \(error)")
        }
    }

    /// Deletes every checkpoint Bulwark made on the domain except `keeping`: the chain the catalog trusts is the
    /// one checkpoint of the newest point. Checkpoints others made are never touched.
    func removeBulwarkCheckpoints(keeping: String?, reporter: TaskReporter) async {
        let uuid = task.vmUUID.uuidString.lowercased()
        let names = (try? await hypervisor.run { connection in
            try connection.domain(uuid: uuid).checkpoints().map(\.name)
        }) ?? []
        for name in names where name.hasPrefix("bulwark-") && name != keeping {
            await deleteCheckpoint(name, reporter: reporter)
            await reporter.log(.info, "deleted checkpoint \(name)")
        }
    }
}

extension SyncRunner.Mode {
    var reason: String? {
        if case .consistencyCheck(let reason) = self { return reason }
        return nil
    }

    var checkpointName: String? {
        if case .incremental(let name) = self { return name }
        return nil
    }
}
