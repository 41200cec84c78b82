import BulwarkAPI
import BulwarkCore
import BulwarkStore
import Foundation
import NBD

/// One disk to read: where its NBD export is and which bitmap (if any) marks its changes.
struct DiskSource: Sendable {
    var target: String
    var capacity: UInt64
    var endpoint: NBDEndpoint
    /// The name of the dirty bitmap the export offers (`backup-vda`), for an incremental.
    var bitmap: String?
}

/// A disk with its export open and its chunks planned.
struct DiskPlan: Sendable {
    var source: DiskSource
    var export: NBDExport
    var plan: ChunkPlan
    var base: FixedIndex?
    /// What earlier syncs learnt of the disk's chunks, when the agent keeps fingerprints.
    var memo: FingerprintMemo?
}

/// A disk's chunks read and sent: the index for the point, and the memo to keep once the point is committed.
struct TransferredDisk: Sendable {
    var index: FixedIndex
    var memo: FingerprintMemo?
}

extension SyncRunner {
    /// How many chunks are read, hashed and sent at once: enough to keep both cores and both NBD connections busy,
    /// few enough that memory stays at a few chunk sizes.
    static let pipelineDepth = 6

    /// Opens every disk's export and plans its chunks from block status; reports the bytes the sync will read.
    func planDisks(
        _ sources: [DiskSource], mode: Mode, bases: [String: FixedIndex], reporter: TaskReporter
    ) async throws -> [DiskPlan] {
        var plans: [DiskPlan] = []
        let zero = ChunkDigest.zero(chunkSize: task.chunkSize)
        for source in sources {
            let incremental = mode.checkpointName != nil
            var contexts = [MetaContext.baseAllocation]
            if incremental {
                guard let bitmap = source.bitmap else {
                    throw AgentError(
                        .libvirt, "the backup job exports no dirty bitmap for disk \(source.target) of \(subject)")
                }
                contexts.append(MetaContext.dirtyBitmap(bitmap))
            }
            let export: NBDExport
            let status: [String: [Extent]]
            do {
                export = try await NBDExport.open(source.endpoint, metaContexts: contexts, connections: 2)
                guard export.size == source.capacity else {
                    throw AgentError(
                        .nbd, "disk \(source.target) of \(subject) exports \(export.size) bytes; libvirt says "
                            + "\(source.capacity): the disk changed size during the sync, run it again")
                }
                status = try await export.blockStatus(0..<export.size)
            } catch let error as AgentError {
                throw error
            } catch {
                throw AgentError(
                    .nbd, "cannot read disk \(source.target) of \(subject) over NBD (\(source.endpoint)): \(error)",
                    cause: error)
            }
            let data = (status[MetaContext.baseAllocation] ?? []).filter { !$0.isZero }.map(\.range)
            let dirty = contexts.count > 1 ? (status[contexts[1]] ?? []).filter(\.isDirty).map(\.range) : nil
            let base = bases[source.target]
            let plan = ChunkPlan(
                diskSize: source.capacity, chunkSize: task.chunkSize, data: ChunkPlan.merged(data),
                dirty: dirty.map(ChunkPlan.merged), base: incremental ? base : nil, zeroDigest: zero)
            await reporter.log(
                .info, "disk \(source.target): \(plan.actions.count) chunks, \(plan.readCount) to read "
                    + "(\(ByteCount.approximate(Int64(plan.bytesToRead)))), "
                    + "\(plan.actions.count { if case .carry = $0 { true } else { false } }) unchanged")
            var memo: FingerprintMemo?
            if let fingerprints, plan.readCount > 0 {
                let (found, problem) = await fingerprints.memo(
                    vm: task.vmUUID, disk: source.target, chunkSize: task.chunkSize, count: plan.actions.count)
                if let problem { await reporter.log(.warning, "\(problem); every chunk of disk \(source.target) is hashed") }
                memo = found
            }
            plans.append(DiskPlan(source: source, export: export, plan: plan, base: base, memo: memo))
        }
        await reporter.addTotal(Int64(plans.reduce(0) { $0 + $1.plan.bytesToRead }))
        return plans
    }

    /// Reads the planned chunks of one disk, hashes and encodes them, sends those the datastore lacks, and returns the
    /// disk's new index.
    ///
    /// A chunk whose fingerprint the disk's memo knows takes its digest from the memo instead of SHA-256; every other
    /// chunk read is hashed. Either way its fingerprint goes into the new memo.
    func transfer(_ disk: DiskPlan, uploader: ChunkUploader, reporter: TaskReporter) async throws -> TransferredDisk {
        let plan = disk.plan
        let zero = ChunkDigest.zero(chunkSize: task.chunkSize)
        var digests = plan.actions.map { action -> ChunkDigest in
            if case .carry(let digest) = action { return digest }
            return zero
        }
        let reads = plan.actions.indices.filter { plan.actions[$0] == .read }
        var changed = 0
        var recognised = 0
        let chunkSize = task.chunkSize
        let subject = subject
        let key = disk.memo != nil ? fingerprints?.key : nil
        let known = disk.memo
        // Unchanged chunks keep what the old memo knew of them, as long as it is about the same digest.
        var memo = disk.memo.map { old in
            var memo = FingerprintMemo(chunkSize: chunkSize, count: plan.actions.count)
            for (index, action) in plan.actions.enumerated() {
                if case .carry(let digest) = action, let entry = old[index], entry.digest == digest { memo[index] = entry }
            }
            return memo
        }
        typealias Done = (index: Int, digest: ChunkDigest, fingerprint: ChunkFingerprint?, recognised: Bool, scanned: Int, sent: Int)
        try await withThrowingTaskGroup(of: Done.self) { group in
            var pending = reads.makeIterator()
            func start(_ index: Int) {
                let range = plan.range(ofChunk: index)
                group.addTask {
                    let bytes: [UInt8]
                    do {
                        bytes = try await disk.export.read(offset: range.lowerBound, length: range.count)
                    } catch {
                        throw AgentError(
                            .nbd, "reading disk \(disk.source.target) of \(subject) at offset \(range.lowerBound) "
                                + "failed: \(error)", cause: error)
                    }
                    if bytes.count == chunkSize, Datastore.isAllZero(bytes) {
                        return (index, zero, nil, false, bytes.count, 0)
                    }
                    let fingerprint = key?.fingerprint(of: bytes)
                    let remembered = fingerprint.flatMap { known?.digest(ofChunk: index, fingerprint: $0) }
                    let digest = remembered ?? ChunkDigest.of(bytes)
                    let sent = try await uploader.ensure(digest) { EncodedChunk.file(of: bytes) }
                    return (index, digest, fingerprint, remembered != nil, bytes.count, sent)
                }
            }
            for _ in 0..<Self.pipelineDepth {
                guard let index = pending.next() else { break }
                start(index)
            }
            while let done = try await group.next() {
                digests[done.index] = done.digest
                if done.recognised { recognised += 1 }
                if let fingerprint = done.fingerprint {
                    memo?[done.index] = .init(digest: done.digest, fingerprint: fingerprint)
                }
                if let base = disk.base, base.chunkCount > done.index, base[done.index] != done.digest { changed += 1 }
                await reporter.add(scanned: Int64(done.scanned), sent: Int64(done.sent))
                if await reporter.cancelRequested {
                    throw AgentError(.cancelled, "the job was cancelled")
                }
                if let index = pending.next() { start(index) }
            }
        }
        if disk.base != nil {
            await reporter.log(
                .info, "disk \(disk.source.target): \(changed) of \(reads.count) chunks read differ from the previous point")
        }
        if disk.memo != nil {
            await reporter.log(
                .info, "disk \(disk.source.target): \(recognised) of \(reads.count) chunks read were recognised by their "
                    + "fingerprint, \(reads.count - recognised) hashed with SHA-256")
        }
        do {
            let index = try FixedIndex(chunkSize: chunkSize, logicalSize: plan.diskSize, digests: digests)
            return TransferredDisk(index: index, memo: memo)
        } catch {
            throw AgentError(.local, "cannot build the index of disk \(disk.source.target) of \(subject)", cause: error)
        }
    }

    /// Sends the indexes; the server checks them, writes the point and records it in one transaction.
    func commit(
        mode: Mode, consistency: Consistency, domainXML: String, indexes: [String: FixedIndex],
        checkpoint: AgentTask.CheckpointRecord?, uploader: ChunkUploader, reporter: TaskReporter
    ) async throws -> AgentCommitResult {
        await reporter.enter(.commit)
        let sent = await uploader.uploadedBytes
        let chunks = await uploader.uploadedChunks
        await reporter.log(.info, "sent \(chunks) new chunks (\(ByteCount.approximate(sent))); committing")
        await reporter.flush()
        var kind = mode.syncKind
        if task.expressFull, kind != .consistencyCheck { kind = .expressFull }
        let body = AgentCommit(
            syncKind: kind, consistency: consistency, domainXML: domainXML,
            disks: indexes.sorted { $0.key < $1.key }.map { .init(target: $0.key, index: Data($0.value.encoded())) },
            checkpoint: checkpoint, transferredBytes: sent,
            consistencyCheckReason: task.command == .sync ? mode.reason : nil)
        let path = "/v1/agent/tasks/\(task.id)/commit"
        guard let result = try await Retry.transient("commit", logger: logger, { () async throws(AgentError) in
            try await server.json(.POST, path, body: body, as: AgentCommitResult.self, timeout: .seconds(900))
        }) else {
            throw AgentError(.rejected, "the server answered the commit of \(subject) without a point")
        }
        await reporter.close()
        return result
    }

    /// Keeps the disks' new memos for the next sync. The point is committed by now: a memo that cannot be written
    /// costs only SHA-256 work later, so it is a warning in the agent's log, not a failure of the job.
    func keep(_ memos: [String: FingerprintMemo]) async {
        guard let fingerprints else { return }
        for (target, memo) in memos {
            do {
                try await fingerprints.save(memo, vm: task.vmUUID, disk: target)
            } catch {
                logger.warning(
                    "cannot keep the chunk fingerprints of disk \(target) of \(subject): \(error); its next sync hashes every chunk it reads",
                    metadata: ["job": "\(task.id)"])
            }
        }
    }
}
