import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Logging
import NIOPosix
import S3
import S3Datastore
import ServiceLifecycle

/// The one owner of bulwarkd's datastores: every route, job and service reaches a datastore through it.
///
/// It opens each datastore once, runs every blocking call (file I/O, and the other blocking work of the server such
/// as parsing large XML) on a bounded `NIOThreadPool`, never on Swift's cooperative pool, and owns the life of staged
/// chunks: it recovers them at start, promotes a job's when the job ends, and sweeps those of jobs that ended
/// without a word (an agent that died). The commit of a recovery point into a datastore is written here once, for
/// agent syncs and for seeding alike.
///
/// As a `Service` it is listed first in bulwarkd's `ServiceGroup`, so it stops last: its thread pool outlives every
/// caller.
actor Datastores: Service {
    /// Threads for blocking work: enough for the datastore I/O of a few jobs at once on a small server, bounded so
    /// that a burst of uploads queues instead of starting a thread each.
    static let defaultThreads = 8
    /// Guest file readers in use at once; more browse calls wait for one.
    static let guestThreads = 4
    /// How often jobs that ended without a finish report have their staged chunks promoted.
    static let sweepInterval: Duration = .seconds(300)

    private let catalog: Catalog
    private let pool: NIOThreadPool
    /// Threads for calls into guest file readers, which may block for minutes (an appliance starting under TCG,
    /// a hostile file system until its reader's watchdog ends it): apart, so they never hold datastore I/O up.
    private let guestPool: NIOThreadPool
    private let logger: Logger
    /// Datastores opened so far, by folder.
    private var opened: [String: Datastore] = [:]
    /// The buckets behind S3 datastores, by the folder of their cache: one client each, for the server's life.
    private var objectStores: [String: S3ObjectStore] = [:]
    /// Folders the catalog records as local datastores (no bucket), learnt on first open.
    private var localFolders: Set<String> = []
    /// How much chunk data each S3 datastore's cache may hold, by folder; absent: all of it.
    private var cacheLimits: [String: UInt64] = [:]
    /// Chunks sent to a bucket while their syncs run, at most `backgroundUploads` at once per datastore.
    private var uploading: [String: Int] = [:]
    static let backgroundUploads = 16
    /// Threads for those uploads, which wait on the gateway: apart, so they never hold datastore I/O up.
    private let uploadPool = NIOThreadPool(numberOfThreads: 8)

    init(catalog: Catalog, threads: Int = Datastores.defaultThreads, logger: Logger) {
        self.catalog = catalog
        self.logger = logger
        pool = NIOThreadPool(numberOfThreads: max(1, threads))
        guestPool = NIOThreadPool(numberOfThreads: Self.guestThreads)
        // Started at once: bulwarkd recovers staged chunks before the service group runs.
        pool.start()
        guestPool.start()
        uploadPool.start()
    }

    /// Sweeps staged chunks of jobs that ended unannounced until bulwarkd stops, then ends the thread pool once the
    /// work queued on it is done.
    func run() async throws {
        try await runPeriodically(every: Self.sweepInterval, logger: logger, what: "staged-chunk sweep") { [self] in
            await promoteStagedChunksOfEndedJobs()
            await trimCaches()
        }
        try await uploadPool.shutdownGracefully()
        for store in objectStores.values { await store.client.shutdown() }
        try await guestPool.shutdownGracefully()
        try await pool.shutdownGracefully()
    }

    // MARK: - Blocking work

    /// Runs `body` on the pool: blocking work that is not a datastore's (reading an image header, parsing XML).
    nonisolated func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    /// Runs `body`, a call into a guest file reader, on threads kept for those.
    nonisolated func readingGuest<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await guestPool.runIfActive(body)
    }

    /// The datastore in `path`, opened the first time it is asked for.
    func store(at path: String) async throws -> Datastore {
        if let store = opened[path] { return store }
        let store = try await backed(try await blocking { try Datastore.open(at: path) }, at: path)
        opened[path] = store
        return store
    }

    /// `store` with its bucket attached when the catalog records the datastore in `path` as an S3 datastore.
    ///
    /// A datastore's backend never changes, so the catalog is asked once per folder, not on every reopen (a task's
    /// claim, the alert monitor's pass).
    private func backed(_ store: Datastore, at path: String) async throws -> Datastore {
        if let objects = objectStores[path] { return store.backed(by: objects) }
        if localFolders.contains(path) { return store }
        guard let settings = try await catalog.datastores().first(where: { $0.path.path == path })?.s3 else {
            localFolders.insert(path)
            return store
        }
        let configuration = try await blocking { try Self.configuration(of: settings) }
        let objects = S3ObjectStore(client: try S3Client(configuration: configuration))
        objectStores[path] = objects
        cacheLimits[path] = settings.cacheSize
        return store.backed(by: objects)
    }

    /// The client configuration of an S3 datastore, with its keys read from the credentials file (mode 0600).
    static func configuration(of settings: DatastoreS3Settings) throws(S3Error) -> S3Configuration {
        guard let endpoint = URL(string: settings.endpoint) else {
            throw S3Error(
                .invalidConfiguration, "the S3 endpoint '\(settings.endpoint)' is not a URL; write it as https://host:port")
        }
        // A request may wait a minute at most, three times: a gateway that hangs fails the job as transient
        // within minutes instead of holding it.
        return try S3Configuration(
            endpoint: endpoint, bucket: settings.bucket, region: settings.region, keyPrefix: settings.prefix,
            credentials: try S3Credentials.load(file: settings.credentialsFile), caFile: settings.caFile,
            requestTimeout: .seconds(60), maxAttempts: 3)
    }

    /// The datastore in `path` opened again, its marker read afresh: for the checks that must notice a folder
    /// unmounted, removed or replaced since it was first opened (the alert monitor, a task's claim).
    func reopen(at path: String) async throws -> Datastore {
        do {
            let store = try await backed(try await blocking { try Datastore.open(at: path) }, at: path)
            opened[path] = store
            return store
        } catch {
            opened[path] = nil
            throw error
        }
    }

    /// Runs `body` with the datastore in `path` on the pool.
    ///
    /// With `fresh`, the datastore is opened again first (``reopen(at:)``): for work an admin starts on a whole
    /// datastore (show, verify, GC, an export), which must say clearly that its folder is gone rather than fail
    /// somewhere inside. Per-chunk calls use the datastore as opened.
    nonisolated func withStore<T: Sendable>(
        at path: String, fresh: Bool = false, _ body: @escaping @Sendable (Datastore) throws -> T
    ) async throws -> T {
        let store = fresh ? try await reopen(at: path) : try await store(at: path)
        return try await blocking { try body(store) }
    }

    /// Makes a new datastore in `path` (see ``Datastore/create(at:chunkSize:now:)``) and keeps it open.
    func create(at path: String, chunkSize: Int) async throws -> Datastore {
        let store = try await blocking { try Datastore.create(at: path, chunkSize: chunkSize) }
        await dropBucket(at: path)
        localFolders.insert(path)
        opened[path] = store
        return store
    }

    /// Forgets the bucket of a folder that now holds another datastore (an S3 one removed, a local one made there).
    private func dropBucket(at path: String) async {
        cacheLimits[path] = nil
        if let objects = objectStores.removeValue(forKey: path) { await objects.client.shutdown() }
    }

    /// Makes a new S3 datastore: checks the bucket (reachable, trusted, the keys work, no datastore under the
    /// prefix), makes the cache folder in `path`, then writes the marker to the bucket. A failure at any step leaves
    /// nothing behind.
    func createS3(at path: String, chunkSize: Int, settings: DatastoreS3Settings) async throws -> Datastore {
        let configuration = try await blocking { try Self.configuration(of: settings) }
        let client = try S3Client(configuration: configuration)
        do {
            try await S3Datastore.checkNew(client)
            let local = try await blocking { try Datastore.create(at: path, chunkSize: chunkSize) }
            do {
                try await S3Datastore.writeMarker(of: local, to: client)
            } catch {
                _ = try? await blocking { try FileManager.default.removeItem(atPath: path) }
                throw error
            }
            let objects = S3ObjectStore(client: client)
            await dropBucket(at: path)
            localFolders.remove(path)
            objectStores[path] = objects
            cacheLimits[path] = settings.cacheSize
            let store = local.backed(by: objects)
            opened[path] = store
            return store
        } catch {
            await client.shutdown()
            throw error
        }
    }

    /// Sends a chunk a sync just staged on an S3 datastore to its bucket while the sync goes on, so that its commit
    /// has little left to upload. Never makes the sync wait: a chunk beyond the datastore's `backgroundUploads` in
    /// flight, or one whose upload fails, is uploaded by the commit as before.
    func uploadInBackground(_ file: [UInt8], digest: ChunkDigest, job: JobID, at path: String) {
        guard let store = opened[path], store.objectStore != nil, uploading[path, default: 0] < Self.backgroundUploads
        else { return }
        uploading[path, default: 0] += 1
        let name = job.description
        Task { [uploadPool, logger] in
            do {
                try await uploadPool.runIfActive { try store.uploadStagedChunk(file, digest: digest, job: name) }
            } catch {
                logger.debug("chunk \(digest) of job \(name) waits for its commit to upload it: \(error)")
            }
            self.uploadEnded(at: path)
        }
    }

    private func uploadEnded(at path: String) { uploading[path, default: 1] -= 1 }

    /// Opens a datastore another server wrote, to attach it: a local folder as it is; for S3, the bucket checked,
    /// then its cache folder opened, or made from the bucket when it is missing or empty.
    func attach(at path: String, settings: DatastoreS3Settings?) async throws -> Datastore {
        guard let settings else {
            let store = try await blocking { try Datastore.open(at: path) }
            await dropBucket(at: path)
            localFolders.insert(path)
            opened[path] = store
            return store
        }
        let configuration = try await blocking { try Self.configuration(of: settings) }
        let client = try S3Client(configuration: configuration)
        do {
            try await client.checkBucket()
            let objects = S3ObjectStore(client: client)
            let store = try await blocking {
                if FileManager.default.fileExists(atPath: "\(path)/.bulwark-datastore") {
                    return try Datastore.open(at: path).backed(by: objects)
                }
                return try Datastore.rebuildCache(at: path, from: objects)
            }
            await dropBucket(at: path)
            localFolders.remove(path)
            objectStores[path] = objects
            cacheLimits[path] = settings.cacheSize
            opened[path] = store
            return store
        } catch {
            await client.shutdown()
            throw error
        }
    }

    /// Forgets a datastore opened for an attach the catalog then refused.
    func forget(at path: String) async {
        opened[path] = nil
        localFolders.remove(path)
        await dropBucket(at: path)
    }

    /// Evicts chunk contents from the caches of S3 datastores that hold more than their limit.
    func trimCaches() async {
        for (path, limit) in cacheLimits {
            do {
                let report = try await withStore(at: path) { try $0.trimCache(toBytes: limit) }
                if report.chunksEvicted > 0 {
                    logger.debug(
                        "trimmed the cache of an S3 datastore",
                        metadata: ["path": "\(path)", "chunks": "\(report.chunksEvicted)", "bytes": "\(report.bytesEvicted)"])
                }
            } catch {
                logger.warning("cannot trim the cache of the S3 datastore at \(path): \(error)")
            }
        }
    }

    // MARK: - Points

    /// Writes a recovery point: promotes what `job` staged, then writes the indexes and, last, the manifest, which
    /// fails with ``DatastoreError/Code/chunkMissing`` when a chunk an index names is not in the datastore.
    ///
    /// The catalog row written after this is the commit itself; a caller whose catalog write fails calls
    /// ``discardPoint(_:at:)``.
    func commitPoint(
        at path: String, job: JobID, manifest: RecoveryPointManifest, indexes: [String: FixedIndex]
    ) async throws -> RecoveryPointManifest {
        let name = job.description
        _ = try await store(at: path)
        let limit = cacheLimits[path]
        return try await withStore(at: path) { store in
            try store.promoteStagedChunks(of: name, checking: false)
            let written = try store.writeRecoveryPoint(manifest: manifest, indexes: indexes)
            // The point's chunks are in the bucket now: their cached contents may go. A failure here costs space only.
            if let limit { _ = try? store.trimCache(toBytes: limit) }
            return written
        }
    }

    /// Removes the files of a point the catalog does not (or no longer) record; a point already gone is no error.
    func discardPoint(_ reference: RecoveryPointRef, at path: String) async throws {
        try await withStore(at: path) { store in
            do {
                try store.deleteRecoveryPoint(reference)
            } catch let error as DatastoreError where error.code == .pointNotFound {
                // Gone already: nothing to free.
            }
        }
    }

    // MARK: - Staged chunks

    /// Promotes what `job` staged in `store` and lists it as `vm`'s uploads: the VM's next sync counts those chunks
    /// as present, no other VM's query ever does. `checking` decodes and hashes each file first (after a crash).
    private static func promote(
        _ job: String, vm: UUID?, checking: Bool, in store: Datastore
    ) throws -> StagingReport {
        let report = try store.promoteStagedChunks(of: job, checking: checking)
        if let vm { try store.recordUploads(report.digests, vm: vm) }
        return report
    }

    /// Promotes the chunks `job` staged once it ended without a point, so that the VM's next sync reuses them.
    ///
    /// A failure loses nothing: the periodic sweep, or the next start of bulwarkd, tries again.
    func jobEnded(_ job: JobID, vm: UUID?, at path: String, logger: Logger) async {
        let name = job.description
        do {
            let report = try await withStore(at: path) { try Self.promote(name, vm: vm, checking: false, in: $0) }
            if report.promoted > 0 {
                logger.debug("uploaded chunks kept for the next sync", metadata: ["chunks": "\(report.promoted)"])
            }
        } catch {
            logger.warning("the chunks this job uploaded stay staged until the next sweep: \(error)")
        }
    }

    /// ``jobEnded(_:vm:at:logger:)`` for jobs a catalog call ended (orphaned tasks, an agent removed).
    func jobsEnded(_ jobs: [JobInfo], logger: Logger) async {
        let ended = jobs.filter { $0.state.isFinished && $0.datastore != nil }
        guard !ended.isEmpty else { return }
        guard let paths = try? await catalogPaths() else { return }
        for job in ended {
            guard let name = job.datastore, let path = paths[name] else { continue }
            await jobEnded(job.id, vm: job.vmUUID, at: path, logger: logger)
        }
    }

    /// The job a staging folder belongs to, as the sweeps see it.
    private enum StagingOwner {
        case running
        /// It no longer runs, or the catalog does not know it; its chunks go to `vm`'s uploads.
        case ended(vm: UUID?)
    }

    /// Whose staging folder `name` is; nil when the catalog cannot say now, and the next pass asks again:
    /// promoting a running job's chunks would take them from under its commit's count.
    private func owner(ofStaging name: String) async -> StagingOwner? {
        guard let id = JobID(name) else { return .ended(vm: nil) }
        do {
            let job = try await catalog.job(id: id).job
            return job.state.isFinished ? .ended(vm: job.vmUUID) : .running
        } catch let error as CatalogError where error.code == .notFound {
            return .ended(vm: nil)
        } catch {
            return nil
        }
    }

    /// Promotes the staged chunks of every job, in every datastore, that no longer runs: the jobs whose end no
    /// finish report announced.
    func promoteStagedChunksOfEndedJobs() async {
        let datastores: [DatastoreInfo]
        do {
            datastores = try await catalog.datastores()
        } catch {
            logger.warning("cannot list the datastores to sweep their staged chunks: \(error)")
            return
        }
        for datastore in datastores {
            let path = datastore.path.path
            do {
                for name in try await withStore(at: path, { try $0.stagingJobs() }) {
                    guard case .ended(let vm) = await owner(ofStaging: name) else { continue }
                    let report = try await withStore(at: path) { try Self.promote(name, vm: vm, checking: false, in: $0) }
                    logger.info(
                        "kept the chunks an ended job uploaded",
                        metadata: ["datastore": "\(datastore.name)", "ended-job": "\(name)", "chunks": "\(report.promoted)"])
                }
            } catch {
                logger.warning("staged chunks of ended jobs in datastore \(datastore.name) at \(path) stay staged: \(error)")
            }
        }
    }

    /// At start, before any agent may call: checks and promotes what every job staged before bulwarkd stopped.
    ///
    /// A crash or power cut may have left staged files that were never flushed, so each one is decoded and its
    /// SHA-256 checked; the damaged ones are dropped (their sync failed anyway, and the next one sends them again).
    /// Every job that staged them was failed as interrupted just before, so none runs.
    func recoverStagedChunks() async throws {
        for datastore in try await catalog.datastores() {
            let path = datastore.path.path
            do {
                var owners: [String: UUID] = [:]
                for name in try await withStore(at: path, { try $0.stagingJobs() }) {
                    if case .ended(let vm?) = await owner(ofStaging: name) { owners[name] = vm }
                }
                let reports = try await withStore(at: path) { [owners] store in
                    try store.stagingJobs().map { name in
                        (name, try Self.promote(name, vm: owners[name], checking: true, in: store))
                    }
                }
                for (job, report) in reports {
                    logger.notice(
                        "kept the chunks a job uploaded before bulwarkd stopped",
                        metadata: [
                            "datastore": "\(datastore.name)", "ended-job": "\(job)", "chunks": "\(report.promoted)",
                            "damaged": "\(report.dropped)",
                        ])
                }
            } catch {
                logger.warning("staged chunks in datastore \(datastore.name) at \(path) stay staged: \(error)")
            }
        }
    }

    /// Every datastore's folder by name, from the catalog.
    func catalogPaths() async throws -> [ResourceName: String] {
        var paths: [ResourceName: String] = [:]
        for datastore in try await catalog.datastores() { paths[datastore.name] = datastore.path.path }
        return paths
    }
}
