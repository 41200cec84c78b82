import BulwarkAPI
import BulwarkCore
import ChunkFormat
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

    /// Opens every disk's export and plans its chunks from block status, all disks at once; reports the bytes the
    /// sync will read.
    func planDisks(
        _ sources: [DiskSource], mode: Mode, bases: [String: FixedIndex], reporter: TaskReporter
    ) async throws -> [DiskPlan] {
        let incremental = mode.checkpointName != nil
        let opened = try await withThrowingTaskGroup(of: (Int, (NBDExport, ChunkPlan)).self) { group in
            for (position, source) in sources.enumerated() {
                let base = incremental ? bases[source.target] : nil
                group.addTask {
                    // Awaited before the tuple is built: Swift 6.3.1's optimizer can return a wrong `position` from
                    // `(position, try await ...)` in a task group's child (seen here).
                    let opened = try await self.openExport(source, incremental: incremental, base: base)
                    return (position, opened)
                }
            }
            var opened: [(NBDExport, ChunkPlan)?] = Array(repeating: nil, count: sources.count)
            for try await (position, export) in group { opened[position] = export }
            return opened.map { $0! }
        }
        var plans: [DiskPlan] = []
        for (source, (export, plan)) in zip(sources, opened) {
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
            plans.append(DiskPlan(source: source, export: export, plan: plan, base: bases[source.target], memo: memo))
        }
        await reporter.addTotal(Int64(plans.reduce(0) { $0 + $1.plan.bytesToRead }))
        return plans
    }

    /// Opens one disk's export and plans its chunks: allocated ones, and of those only the dirty ones for an
    /// incremental from `base`.
    private func openExport(_ source: DiskSource, incremental: Bool, base: FixedIndex?) async throws -> (NBDExport, ChunkPlan) {
        var contexts = [MetaContext.baseAllocation]
        if incremental {
            guard let bitmap = source.bitmap else {
                throw AgentError(.libvirt, "the backup job exports no dirty bitmap for disk \(source.target) of \(subject)")
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
        let plan = ChunkPlan(
            diskSize: source.capacity, chunkSize: task.chunkSize, data: ChunkPlan.merged(data),
            dirty: dirty.map(ChunkPlan.merged), base: base, zeroDigest: ChunkDigest.zero(chunkSize: task.chunkSize))
        return (export, plan)
    }

    /// Reads the planned chunks of one disk, hashes and encodes them, sends those the datastore lacks, and returns the
    /// disk's new index, as the form for several disks does.
    func transfer(_ disk: DiskPlan, uploader: ChunkUploader, reporter: TaskReporter) async throws -> TransferredDisk {
        try await transfer([disk], uploader: uploader, reporter: reporter)[0]
    }

    /// Reads the planned chunks of every disk, hashes and encodes them, sends those the datastore lacks, and returns
    /// each disk's new index, in the order of `disks`.
    ///
    /// All disks share one bounded pipeline, so a small disk's chunks are read while a large one's last chunks are
    /// still on their way. A chunk whose fingerprint its disk's memo knows takes its digest from the memo instead of
    /// SHA-256; every other chunk read is hashed. Either way its fingerprint goes into the new memo.
    func transfer(_ disks: [DiskPlan], uploader: ChunkUploader, reporter: TaskReporter) async throws -> [TransferredDisk] {
        let chunkSize = task.chunkSize
        let zero = ChunkDigest.zero(chunkSize: chunkSize)
        let subject = subject
        /// What one disk's chunks have added up to so far.
        struct Tally {
            var digests: [ChunkDigest]
            var memo: FingerprintMemo?
            var reads = 0
            var changed = 0
            var recognised = 0
        }
        var tallies = disks.map { disk in
            let plan = disk.plan
            // Unchanged chunks keep what the old memo knew of them, as long as it is about the same digest.
            let memo = disk.memo.map { old in
                var memo = FingerprintMemo(chunkSize: chunkSize, count: plan.actions.count)
                for (index, action) in plan.actions.enumerated() {
                    if case .carry(let digest) = action, let entry = old[index], entry.digest == digest { memo[index] = entry }
                }
                return memo
            }
            return Tally(
                digests: plan.actions.map { if case .carry(let digest) = $0 { digest } else { zero } }, memo: memo,
                reads: plan.readCount)
        }
        let reads = disks.indices.flatMap { disk in
            disks[disk].plan.actions.indices.filter { disks[disk].plan.actions[$0] == .read }.map { (disk: disk, chunk: $0) }
        }
        typealias Done = (
            disk: Int, index: Int, digest: ChunkDigest, fingerprint: ChunkFingerprint?, recognised: Bool, scanned: Int,
            sent: Int
        )
        try await withThrowingTaskGroup(of: Done.self) { group in
            var pending = reads.makeIterator()
            func start(_ read: (disk: Int, chunk: Int)) {
                let disk = disks[read.disk]
                let index = read.chunk
                let range = disk.plan.range(ofChunk: index)
                let key = disk.memo != nil ? fingerprints?.key : nil
                group.addTask {
                    let bytes: [UInt8]
                    // Each piece is tagged on the reading thread as it lands, while it is still in the cache.
                    let pieces = key.map { PiecewiseFingerprint(key: $0, length: range.count) }
                    do {
                        if let pieces {
                            bytes = try await disk.export.read(offset: range.lowerBound, length: range.count) {
                                pieces.add($0, at: $1)
                            }
                        } else {
                            bytes = try await disk.export.read(offset: range.lowerBound, length: range.count)
                        }
                    } catch {
                        throw AgentError(
                            .nbd, "reading disk \(disk.source.target) of \(subject) at offset \(range.lowerBound) "
                                + "failed: \(error)", cause: error)
                    }
                    if bytes.count == chunkSize, EncodedChunk.isAllZero(bytes) {
                        return (read.disk, index, zero, nil, false, bytes.count, 0)
                    }
                    let fingerprint = pieces?.fingerprint(of: bytes)
                    let remembered = fingerprint.flatMap { disk.memo?.digest(ofChunk: index, fingerprint: $0) }
                    let digest = remembered ?? ChunkDigest.of(bytes)
                    let sent = try await uploader.ensure(digest) { EncodedChunk.file(of: bytes) }
                    return (read.disk, index, digest, fingerprint, remembered != nil, bytes.count, sent)
                }
            }
            for _ in 0..<Self.pipelineDepth {
                guard let read = pending.next() else { break }
                start(read)
            }
            while let done = try await group.next() {
                tallies[done.disk].digests[done.index] = done.digest
                if done.recognised { tallies[done.disk].recognised += 1 }
                if let fingerprint = done.fingerprint {
                    tallies[done.disk].memo?[done.index] = .init(digest: done.digest, fingerprint: fingerprint)
                }
                if let base = disks[done.disk].base, base.chunkCount > done.index, base[done.index] != done.digest {
                    tallies[done.disk].changed += 1
                }
                await reporter.add(scanned: Int64(done.scanned), sent: Int64(done.sent))
                if await reporter.cancelRequested {
                    throw AgentError(.cancelled, "the job was cancelled")
                }
                if let read = pending.next() { start(read) }
            }
        }
        var transferred: [TransferredDisk] = []
        for (disk, tally) in zip(disks, tallies) {
            let target = disk.source.target
            if disk.base != nil {
                await reporter.log(
                    .info, "disk \(target): \(tally.changed) of \(tally.reads) chunks read differ from the previous point")
            }
            if disk.memo != nil {
                await reporter.log(
                    .info, "disk \(target): \(tally.recognised) of \(tally.reads) chunks read were recognised by their "
                        + "fingerprint, \(tally.reads - tally.recognised) hashed with SHA-256")
            }
            do {
                let index = try FixedIndex(chunkSize: chunkSize, logicalSize: disk.plan.diskSize, digests: tally.digests)
                transferred.append(TransferredDisk(index: index, memo: tally.memo))
            } catch {
                throw AgentError(.local, "cannot build the index of disk \(target) of \(subject)", cause: error)
            }
        }
        return transferred
    }

    /// Sends the indexes; the server checks them, writes the point and records it in one transaction.
    func commit(
        mode: Mode, consistency: Consistency, domainXML: String, indexes: [String: FixedIndex],
        checkpoint: AgentTask.CheckpointRecord?, uploader: ChunkUploader, reporter: TaskReporter
    ) async throws -> AgentCommitResult {
        await reporter.enter(.commit)
        let sent = await uploader.uploadedBytes
        let chunks = await uploader.uploadedChunks
        let (queries, queried) = (await uploader.queries, await uploader.queriedDigests)
        await reporter.log(
            .info,
            "sent \(chunks) new chunks (\(ByteCount.approximate(sent))) after \(queries) chunk queries about \(queried) chunks; committing")
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
