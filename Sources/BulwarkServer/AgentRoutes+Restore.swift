import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Hummingbird
import Logging
import NIOCore

/// The agent's side of a restore: the point's indexes and chunk files, read by the agent of the host the restore
/// writes to, and the completion. An agent reads only chunks the task's own point names.
extension AgentRoutes {
    func registerRestore(on group: RouterGroup<BulwarkRequestContext>) {
        group.get("tasks/:id/point/:target") { _, context in
            let (task, _) = try await runningTask(context, cached: true)
            let restore = try Self.restore(of: task)
            let target = try context.parameters.require("target")
            let path = task.datastorePath.path
            let reference = RecoveryPointRef(vm: task.vmUUID, point: restore.point)
            let bytes = try await datastores.withStore(at: path) { try $0.readIndex(reference, disk: target).encoded() }
            return Response(
                status: .ok, headers: [.contentType: "application/octet-stream"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        group.get("tasks/:id/chunks/:digest") { _, context in
            let (task, _) = try await runningTask(context, cached: true)
            let restore = try Self.restore(of: task)
            let digest = try Self.digest(try context.parameters.require("digest"))
            let path = task.datastorePath.path
            let reference = RecoveryPointRef(vm: task.vmUUID, point: restore.point)
            let allowed = try await restores.digests(of: task.job.id) {
                try await digests(of: reference, datastorePath: path)
            }
            guard allowed.contains(digest) else {
                throw APIError.notFound("chunk \(digest) is not part of point \(restore.point), which task \(task.job.id) restores")
            }
            // Read straight into the response's buffer: one copy of the chunk fewer.
            let buffer = try await datastores.withStore(at: path) { store throws -> ByteBuffer in
                let size = try store.chunkFileSize(digest)
                var buffer = ByteBufferAllocator().buffer(capacity: size)
                try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { space in
                    try store.readChunkFile(digest, into: UnsafeMutableRawBufferPointer(rebasing: space[..<size]))
                    return size
                }
                return buffer
            }
            return Response(
                status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: buffer))
        }
        group.post("tasks/:id/complete") { request, context in
            let (task, host) = try await runningTask(context)
            let body = try await Self.decode(
                AgentTaskComplete.self, request, context, limit: Self.maximumReportSize, what: "a completion")
            let (job, check) = try await catalog.completeTask(
                id: task.job.id, host: host, summary: body.summary, bytesReceived: body.bytesReceived)
            await restores.forget(task.job.id)
            await runningTasks.forget(task.job.id)
            if check != nil { await taskSignal.notify() }
            Self.logger(context, task).info("restore completed", metadata: ["summary": "\(body.summary)"])
            await Self.notify(job, of: task, logger: Self.logger(context, task))
            return Response(status: .noContent)
        }
    }

    /// What the agent needs to run a restore task: the point's definition and disks, and where they go.
    func restoreAssignment(_ task: TaskInfo, store: Datastore) async throws -> AgentRestore {
        let restore = try Self.restore(of: task)
        let reference = RecoveryPointRef(vm: task.vmUUID, point: restore.point)
        let (manifest, disks) = try await datastores.blocking { () throws -> (RecoveryPointManifest, [AgentRestore.Disk]) in
            let manifest = try store.readManifest(reference)
            let disks = try manifest.disks.map { disk in
                let index = try store.readIndex(reference, disk: disk.target)
                var data: UInt64 = 0
                for chunk in 0..<index.chunkCount where index[chunk] != store.zeroDigest {
                    let range = index.range(ofChunk: chunk)
                    data += range.upperBound - range.lowerBound
                }
                return AgentRestore.Disk(target: disk.target, logicalSize: disk.logicalSize, dataBytes: data)
            }
            return (manifest, disks)
        }
        return AgentRestore(
            pointID: restore.point.description, pointCreatedAt: manifest.createdAt, domainXML: manifest.domainXML,
            disks: disks, mode: restore.mode.rawValue, folder: restore.folder, name: restore.name, uuid: restore.uuid,
            format: restore.format, start: restore.start, shutdownTimeout: restore.shutdownTimeout,
            throttle: restore.throttle?.description, items: restore.items)
    }

    static func restore(of task: TaskInfo) throws -> TaskParameters.Restore {
        guard task.parameters.command == .restore, let restore = task.parameters.restore else {
            throw APIError.conflict("task \(task.job.id) is a \(task.parameters.command), not a restore")
        }
        return restore
    }

    /// Posts the ended job to the restore's `--notify` URL.
    static func notify(_ job: JobInfo, of task: TaskInfo, logger: Logger) async {
        await JobNotifier.post(job, to: task.parameters.restore?.notify, logger: logger)
    }

    /// Posts each restore among `jobs` that the server itself failed (its agent restarted, or bulwarkd stopped while
    /// it ran) to its `--notify` URL: no finish report comes for those.
    static func notifyFailedRestores(_ jobs: [JobInfo], catalog: Catalog, logger: Logger) async {
        for job in jobs where job.state == .failed {
            guard let task = try? await catalog.task(id: job.id), task.parameters.restore?.notify != nil else { continue }
            await notify(job, of: task, logger: logger)
        }
    }
}

extension AgentRoutes {
    /// Every chunk digest the indexes of a point name.
    func digests(of point: RecoveryPointRef, datastorePath path: String) async throws -> Set<ChunkDigest> {
        try await datastores.withStore(at: path) { store in
            let manifest = try store.readManifest(point)
            var digests = Set<ChunkDigest>()
            for disk in manifest.disks { digests.formUnion(try store.readIndex(point, disk: disk.target).digests) }
            return digests
        }
    }

    /// The chunks a sync's chunk query may answer as present: those of its base point, and those earlier syncs of
    /// the same VM uploaded without committing (a sync that failed or was cancelled), never another VM's.
    func knownDigests(_ task: TaskInfo) async throws -> Set<ChunkDigest> {
        let path = task.datastorePath.path
        let vm = task.vmUUID
        let base = task.base
        return try await bases.digests(of: task.job.id) {
            var known = try await datastores.withStore(at: path) { try $0.uploadedChunks(vm: vm) }
            guard let base else { return known }
            do {
                known.formUnion(try await digests(of: RecoveryPointRef(vm: vm, point: base.point.id), datastorePath: path))
            } catch let error as DatastoreError {
                throw APIError.conflict(
                    "the base point \(base.point.id) cannot be read from datastore \(task.datastore): \(error.message)")
            }
            return known
        }
    }
}
