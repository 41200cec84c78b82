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
            plans.append(DiskPlan(source: source, export: export, plan: plan, base: base))
        }
        await reporter.addTotal(Int64(plans.reduce(0) { $0 + $1.plan.bytesToRead }))
        return plans
    }

    /// Reads the planned chunks of one disk, hashes and encodes them, sends those the datastore lacks, and returns the
    /// disk's new index.
    func transfer(_ disk: DiskPlan, uploader: ChunkUploader, reporter: TaskReporter) async throws -> FixedIndex {
        let plan = disk.plan
        let zero = ChunkDigest.zero(chunkSize: task.chunkSize)
        var digests = plan.actions.map { action -> ChunkDigest in
            if case .carry(let digest) = action { return digest }
            return zero
        }
        let reads = plan.actions.indices.filter { plan.actions[$0] == .read }
        var changed = 0
        let chunkSize = task.chunkSize
        let subject = subject
        try await withThrowingTaskGroup(of: (index: Int, digest: ChunkDigest, scanned: Int, sent: Int).self) { group in
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
                    let name = EncodedChunk.digest(of: bytes, chunkSize: chunkSize, zeroDigest: zero)
                    let sent = name.isZero ? 0 : try await uploader.ensure(name.digest) {
                        EncodedChunk.file(of: bytes)
                    }
                    return (index, name.digest, bytes.count, sent)
                }
            }
            for _ in 0..<Self.pipelineDepth {
                guard let index = pending.next() else { break }
                start(index)
            }
            while let done = try await group.next() {
                digests[done.index] = done.digest
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
        do {
            return try FixedIndex(chunkSize: chunkSize, logicalSize: plan.diskSize, digests: digests)
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
}
