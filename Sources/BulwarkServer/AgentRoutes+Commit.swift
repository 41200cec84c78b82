import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import DomainXML
import Foundation
import Hummingbird
import Logging

extension AgentRoutes {
    /// The error code of a commit refused because a chunk it names is gone: the agent fails the task as one that
    /// may pass, so it is tried again.
    static let chunkMissingCode = AgentCommitResult.chunkMissingCode

    /// Commits a sync: checks the indexes, writes them and the manifest (which fails if any chunk they name is
    /// missing), then records the point, its checkpoint and the job's success in one catalog transaction.
    ///
    /// The catalog row is the commit point: when the catalog refuses (the task was cancelled or failed meanwhile,
    /// the checkpoint name is taken), the files just written are removed again, so the datastore holds no point the
    /// catalog does not know.
    func commit(_ commit: AgentCommit, task: TaskInfo, host: String, logger: Logger) async throws -> AgentCommitResult {
        let id = task.job.id
        let indexes = try Self.indexes(commit, task: task)
        guard commit.transferredBytes >= 0 else {
            throw APIError.invalid(
                "transferredBytes \(commit.transferredBytes) in the commit of task \(id) is negative; send the chunk bytes sent")
        }
        if let checkpoint = commit.checkpoint, checkpoint.name.isEmpty || checkpoint.xml.isEmpty {
            throw APIError.invalid(
                "the checkpoint in the commit of task \(id) has an empty name or XML; send the checkpoint the sync made, or none")
        }
        try await checkDomain(commit, task: task)
        let pointID = RecoveryPointID.generate()
        var labels = ["job": id.description, "host": host, "kind": task.job.kind.rawValue]
        if let group = task.group { labels["group"] = group.rawValue }
        let now = Date()
        let manifest = RecoveryPointManifest(
            pointID: pointID, vmUUID: task.vmUUID, vmName: task.vmName, createdAt: now, domainXML: commit.domainXML,
            consistency: commit.consistency == .applicationConsistent ? .appConsistent : .crashConsistent,
            syncKind: Self.manifestKind(commit.syncKind), checkpointName: commit.checkpoint?.name, labels: labels,
            retainUntil: Self.retention(from: now, task: task))
        let path = task.datastorePath.path
        let reference = RecoveryPointRef(vm: task.vmUUID, point: pointID)
        let written: RecoveryPointManifest
        do {
            written = try await datastores.commitPoint(at: path, job: id, manifest: manifest, indexes: indexes)
        } catch let error as DatastoreError where error.code == .chunkMissing {
            // A chunk the sync counted on went between its query and this commit (garbage collection, a verify's
            // quarantine, a hand in the datastore): nothing the agent did wrong, and a new try uploads it again.
            throw APIError(
                .conflict, code: Self.chunkMissingCode,
                message: "\(error.message); the sync is tried again, which stores the chunk again")
        }

        let logical = indexes.values.reduce(Int64(0)) { $0 + Int64(clamping: $1.logicalSize) }
        let point = NewRecoveryPoint(
            id: pointID, vmUUID: task.vmUUID, group: task.group, datastore: task.datastore,
            createdAt: written.createdAt, syncKind: commit.syncKind, consistency: commit.consistency,
            logicalBytes: logical, storedBytes: await uploads.storedBytes(for: id),
            transferredBytes: commit.transferredBytes,
            retainUntil: Self.retention(from: written.createdAt, task: task), checkpointName: commit.checkpoint?.name)
        let checkpoint = commit.checkpoint.map {
            // The calling host made it, whatever the body says: the certificate is what names the host.
            NewCheckpoint(vmUUID: task.vmUUID, name: $0.name, host: host, xml: $0.xml, createdAt: written.createdAt)
        }
        do {
            try await catalog.commitTask(id: id, host: host, point: point, checkpoint: checkpoint)
        } catch {
            do {
                try await datastores.discardPoint(reference, at: path)
            } catch let cleanup {
                // Garbage collection would not remove a complete point; say so loudly.
                logger.error("the refused point \(reference) stays in datastore \(task.datastore): \(cleanup)")
            }
            logger.warning("commit refused: \(error)")
            throw error
        }
        await uploads.forget(id)
        do {
            // The point names what the VM's next sync needs: earlier failed syncs' uploads are no longer its own.
            let vm = task.vmUUID
            try await datastores.withStore(at: path) { try $0.clearUploads(vm: vm) }
        } catch {
            logger.warning("cannot clear the list of the VM's uncommitted uploads: \(error)")
        }
        await noteChangeTracking(commit, task: task, host: host, logger: logger)
        logger.info(
            "committed recovery point",
            metadata: ["point": "\(pointID)", "kind": "\(commit.syncKind)", "stored": "\(point.storedBytes)"])
        return AgentCommitResult(pointID: pointID.description)
    }

    /// Until when a point the task commits at `time` is kept: the group's retention, or the admin's `--retain-until`
    /// when that is later.
    static func retention(from time: Date, task: TaskInfo) -> Date {
        let retained = time.addingTimeInterval(TimeInterval(task.retentionDays) * 86_400)
        return max(retained, task.parameters.retainUntil ?? retained)
    }

    /// Raises an informational alert when a sync had to run as a consistency check, and resolves it once an
    /// incremental shows change tracking works again. Alerts are advice: failing to record one fails no commit.
    func noteChangeTracking(_ commit: AgentCommit, task: TaskInfo, host: String, logger: Logger) async {
        let subject = "vm \(host)/\(task.vmName)"
        do {
            if commit.syncKind == .consistencyCheck, let reason = commit.consistencyCheckReason {
                try await catalog.raiseAlert(
                    kind: .replicaInconsistent, severity: .information, subject: subject,
                    message: "the sync of VM \(task.vmName) on \(host) ran as a consistency check: \(reason). The new "
                        + "point is complete and a new checkpoint chain started; nothing to do unless this repeats")
            } else if commit.syncKind == .incremental || commit.syncKind == .expressFull {
                try await catalog.resolveAlerts(kind: .replicaInconsistent, subject: subject)
            }
        } catch {
            logger.warning("cannot record the change-tracking alert for \(subject): \(error)")
        }
    }

    /// The commit's indexes by disk target, checked: unique, valid targets, the datastore's chunk size.
    static func indexes(_ commit: AgentCommit, task: TaskInfo) throws -> [String: FixedIndex] {
        let id = task.job.id
        guard !commit.disks.isEmpty else {
            throw APIError.invalid("the commit of task \(id) names no disks; send one index per disk of the VM")
        }
        var indexes: [String: FixedIndex] = [:]
        for disk in commit.disks {
            guard isDiskTarget(disk.target) else {
                throw APIError.invalid(
                    "disk target '\(disk.target.prefix(80))' in the commit of task \(id) is not valid; use the target from the domain XML, such as vda (1–64 letters, digits, '-' or '_')")
            }
            guard indexes[disk.target] == nil else {
                throw APIError.invalid("the commit of task \(id) names disk \(disk.target) twice; send one index per disk")
            }
            let index: FixedIndex
            do {
                index = try FixedIndex(decoding: [UInt8](disk.index), source: "the index of disk \(disk.target) sent for task \(id)")
            } catch {
                throw APIError.invalid(error.message)
            }
            guard index.chunkSize == task.chunkSize else {
                throw APIError.invalid(
                    "the index of disk \(disk.target) has \(index.chunkSize)-byte chunks; datastore \(task.datastore) uses \(task.chunkSize)-byte chunks: cut the disk at the task's chunkSize")
            }
            indexes[disk.target] = index
        }
        return indexes
    }

    /// Refuses domain XML that cannot be the VM's definition (see ``CommittedDomain``): a restore never defines it
    /// as it is, but a point should describe the VM it holds, and bounded, entity-free XML is all a restore parses.
    func checkDomain(_ commit: AgentCommit, task: TaskInfo) async throws {
        let xml = commit.domainXML
        let name = task.vmName
        let uuid = task.vmUUID.uuidString.lowercased()
        let targets = commit.disks.map(\.target)
        // Up to a MiB of XML: parsed off the request threads.
        let problem = try await datastores.blocking { () -> XMLFormatError? in
            do throws(XMLFormatError) {
                try CommittedDomain.check(xml, name: name, uuid: uuid, targets: targets)
                return nil
            } catch {
                return error
            }
        }
        if let problem {
            throw APIError.invalid(
                "the domain XML in the commit of task \(task.job.id) for VM \(name) (\(uuid)) is refused: \(problem.message)")
        }
    }

    static func isDiskTarget(_ target: String) -> Bool {
        (1...64).contains(target.utf8.count)
            && target.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
                    || byte == UInt8(ascii: "_")
            }
    }

    static func manifestKind(_ kind: SyncKind) -> RecoveryPointManifest.SyncKind {
        switch kind {
        case .full: .full
        case .incremental: .incremental
        case .consistencyCheck: .consistencyCheck
        case .expressFull: .expressFull
        case .seed: .seed
        }
    }
}

extension SyncKind {
    /// The catalog's kind of a point whose manifest says `kind` (an attached datastore's): the inverse of
    /// `AgentRoutes.manifestKind`.
    init(_ kind: RecoveryPointManifest.SyncKind) {
        self =
            switch kind {
            case .full: .full
            case .incremental: .incremental
            case .consistencyCheck: .consistencyCheck
            case .expressFull: .expressFull
            case .seed: .seed
            }
    }
}
