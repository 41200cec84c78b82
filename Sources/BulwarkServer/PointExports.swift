import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Logging
import NBDServer

/// The recovery points bulwarkd serves over NBD now, each on a unix socket of its own under the data directory's
/// `exports/` folder, one export per disk. A served point is in use: retention keeps it until its export stops.
actor PointExports {
    struct Session: Sendable {
        let id: String
        let point: RecoveryPointInfo
        let disks: [(target: String, size: UInt64)]
        let server: NBDServer
        let createdAt: Date
    }

    private let folder: String
    private let catalog: Catalog
    let datastores: Datastores
    private let logger: Logger
    private var sessions: [String: Session] = [:]
    /// The catalog lease of each export, by export id.
    private var leases: [String: String] = [:]

    init(folder: String, catalog: Catalog, datastores: Datastores, logger: Logger) {
        self.folder = folder
        self.catalog = catalog
        self.datastores = datastores
        self.logger = logger
    }

    /// Decoded chunks kept per export: 16 chunks, 64 MiB at the default chunk size.
    static let cachedChunks = 16

    /// Serves `point` from the datastore at `path`. Refused when the point is damaged (naming the chunks it
    /// lacks) or its datastore cannot be read.
    func open(_ point: RecoveryPointInfo, datastorePath path: String) async throws -> Session {
        let id = String(UUID().uuidString.lowercased().prefix(8))
        // The lease comes before the first read: a point retention deletes now is refused here, not half-read.
        let lease = try await catalog.leasePoint(point.id, holder: "NBD export \(id)")
        let session: Session
        do {
            session = try await serve(point, datastorePath: path, id: id)
        } catch {
            try? await catalog.releasePointLease(lease)
            throw error
        }
        leases[id] = lease
        return session
    }

    private func serve(_ point: RecoveryPointInfo, datastorePath path: String, id: String) async throws -> Session {
        let disks = try await disks(point, datastorePath: path)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let exports = try NBDExports(disks.map { (name: $0.target, source: $0 as any NBDExportSource) })
        let logger = self.logger
        let server = try NBDServer(socketPath: "\(folder)/\(id).sock", exports: exports) { message in
            logger.warning("\(message)", metadata: ["export": "\(id)", "point": "\(point.id)"])
        }
        let session = Session(
            id: id, point: point, disks: disks.map { ($0.target, $0.size) }, server: server, createdAt: Date())
        sessions[id] = session
        logger.info("serving a recovery point over NBD", metadata: ["export": "\(id)", "point": "\(point.id)", "socket": "\(server.socketPath)"])
        return session
    }

    /// The point's disks from the datastore at `path`, each as a source reading its chunks through one cache.
    /// Refused when the point is damaged (naming the chunks it lacks) or its datastore cannot be read.
    nonisolated func disks(_ point: RecoveryPointInfo, datastorePath path: String) async throws -> [RecoveryPointDisk] {
        let label = "point \(point.id) of VM \(point.vmName)"
        let (store, disks) = try await load(point, datastorePath: path)
        let cache = ChunkCache(capacity: Self.cachedChunks)
        return disks.map { RecoveryPointDisk(store: store, index: $0.1, cache: cache, label: "disk \($0.0) of \(label)", target: $0.0) }
    }

    nonisolated func load(_ point: RecoveryPointInfo, datastorePath path: String) async throws -> (Datastore, [(String, FixedIndex)]) {
        let reference = RecoveryPointRef(vm: point.vmUUID, point: point.id)
        let label = "point \(point.id) of VM \(point.vmName)"
        let store: Datastore
        do {
            store = try await datastores.reopen(at: path)
        } catch {
            throw APIError.conflict(
                "datastore \(point.datastore) at \(path) cannot be opened (\(error)), so \(label) cannot be served; mount its file system")
        }
        return try await datastores.blocking { () throws -> (Datastore, [(String, FixedIndex)]) in
            let manifest = try store.readManifest(reference)
            var disks: [(String, FixedIndex)] = []
            var missing: [String] = []
            for disk in manifest.disks {
                let index = try store.readIndex(reference, disk: disk.target)
                disks.append((disk.target, index))
                if point.state == .damaged {
                    for digest in Set(index.digests) where digest != store.zeroDigest && !store.hasChunk(digest) {
                        missing.append("\(disk.target): \(digest)")
                    }
                }
            }
            if point.state == .damaged {
                throw APIError.conflict(
                    "\(label) is damaged and cannot be served"
                        + (missing.isEmpty
                            ? "; run `bulwark verify` to name its bad chunks"
                            : ": it lacks chunks \(missing.sorted().prefix(10).joined(separator: ", "))\(missing.count > 10 ? " and \(missing.count - 10) more" : "")")
                        + "; choose an earlier point (`bulwark points \(point.vmName)`)")
            }
            return (store, disks)
        }
    }

    func list() -> [Session] { sessions.values.sorted { $0.createdAt < $1.createdAt } }

    func session(_ id: String) throws -> Session {
        guard let session = sessions[id] else {
            throw APIError.notFound("no export has id \(id); `bulwark export list` lists them")
        }
        return session
    }

    /// Stops serving export `id`; its open connections are closed.
    func close(_ id: String) throws -> Session {
        let session = try session(id)
        session.server.stop()
        sessions.removeValue(forKey: id)
        if let lease = leases.removeValue(forKey: id) {
            Task { [catalog] in try? await catalog.releasePointLease(lease) }
        }
        logger.info("stopped serving a recovery point", metadata: ["export": "\(id)", "point": "\(session.point.id)"])
        return session
    }

    /// Keeps `point` from retention and deletion while a browse or an item-level copy reads it: a catalog lease,
    /// refused when the point is gone already. End it with ``release(_:)``.
    func hold(_ point: RecoveryPointID, holder: String) async throws -> String {
        try await catalog.leasePoint(point, holder: holder)
    }

    func release(_ lease: String) async {
        do {
            try await catalog.releasePointLease(lease)
        } catch {
            // A lease left behind only delays retention until bulwarkd's next start clears it.
            logger.warning("cannot release a recovery point lease", metadata: ["lease": "\(lease)", "error": "\(error)"])
        }
    }
}
