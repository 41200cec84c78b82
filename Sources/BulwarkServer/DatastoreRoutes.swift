import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Hummingbird

/// `/v1/datastores`: create, list and show datastores.
struct DatastoreRoutes {
    let catalog: Catalog
    let datastores: Datastores
    /// Where S3 datastores keep their caches when the request names no folder.
    let cacheRoot: String
    /// Where an attach reads a catalog copy from (the data directory's `tmp`).
    let scratch: String
    /// This server's id, recorded as the writer of the datastores it creates or attaches.
    let serverID: UUID
    /// How often the writer's heartbeat is renewed (the catalog copies' interval); nil: never.
    let heartbeatInterval: Duration?

    /// Records this server as the datastore's writer; a failure is only logged by the next heartbeat.
    func recordOwner(of store: Datastore) async {
        guard let heartbeatInterval else { return }
        let owner = DatastoreOwner(
            server: serverID, heartbeat: Date(), interval: Int(heartbeatInterval.components.seconds))
        _ = try? await datastores.blocking { try store.recordOwner(owner) }
    }

    func register(on group: RouterGroup<BulwarkRequestContext>) {
        group.post("datastores") { request, context in
            let body = try await request.decode(as: DatastoreCreateRequest.self, context: context)
            let view = try await create(body)
            return EditedResponse(status: .created, response: view)
        }
        group.post("datastores/attach") { request, context in
            let body = try await request.decode(as: DatastoreCreateRequest.self, context: context)
            let result = try await attach(body)
            return EditedResponse(status: .created, response: result)
        }
        group.get("datastores") { _, _ in
            try await catalog.datastores().map { Self.view($0) }
        }
        group.get("datastores/:name") { _, context in
            let name = try ResourceName(try context.parameters.require("name"), field: "datastore name")
            return try await show(try await catalog.datastore(named: name))
        }
    }

    /// Records the datastore, then makes its folder (and, for S3, checks the bucket and writes its marker); a
    /// failure takes the catalog entry back out, so the two never disagree.
    func create(_ body: DatastoreCreateRequest) async throws -> DatastoreView {
        let name = try ResourceName(body.name, field: "datastore name")
        let chunkSize = try body.chunkSize.map { try ChunkSize(parsing: $0) } ?? .default
        let s3 = try body.s3.map { try Self.settings($0, chunkSize: chunkSize) }
        let path = try folder(body, name: name, s3: s3)
        guard body.readOnly != true else {
            throw APIError.invalid("--read-only is for attaching a datastore another server writes to, not for a new one")
        }
        let info = try await catalog.addDatastore(name: name, path: path, chunkSize: chunkSize, s3: s3)
        do {
            let store = if let s3 {
                try await datastores.createS3(at: path.path, chunkSize: chunkSize.bytes, settings: s3)
            } else {
                try await datastores.create(at: path.path, chunkSize: chunkSize.bytes)
            }
            await recordOwner(of: store)
        } catch {
            do {
                try await catalog.removeDatastore(named: name)
            } catch let rollback {
                throw APIError(
                    .internalServerError, code: "inconsistent",
                    message: "creating \(path) failed (\(error)) and the catalog entry could not be taken back (\(rollback))")
            }
            // A folder the server cannot read or write is the caller's choice to fix, not a server failure.
            if let error = error as? DatastoreError, error.code == .io { throw APIError.invalid(error.message) }
            throw error
        }
        return try await show(info)
    }

    /// Brings a datastore another server wrote (its data directory lost) into the catalog: the VMs and points its
    /// manifests describe. Nothing in the datastore is changed but, for S3, the cache folder made from the bucket.
    func attach(_ body: DatastoreCreateRequest) async throws -> DatastoreAttachResult {
        let name = try ResourceName(body.name, field: "datastore name")
        guard body.chunkSize == nil else {
            throw APIError.invalid("an attached datastore keeps its own chunk size; leave out --chunk-size")
        }
        // The chunk size is the datastore's, unknown until it is open: the cache size is checked against the least.
        let s3 = try body.s3.map { try Self.settings($0, chunkSize: try ChunkSize(bytes: 64 << 10)) }
        let path = try folder(body, name: name, s3: s3)
        if try await catalog.datastores().contains(where: { $0.name == name || $0.path == path }) {
            throw APIError.conflict("a datastore named \(name) or at \(path) is in the catalog already; nothing to attach")
        }
        let store: Datastore
        do {
            store = try await datastores.attach(at: path.path, settings: s3)
        } catch let error as DatastoreError where [.notADatastore, .unsupportedFormat].contains(error.code) {
            // A folder or bucket that holds no datastore is the caller's to fix.
            throw APIError.invalid(error.message)
        }
        let readOnly = body.readOnly ?? false
        do {
            let now = Date()
            if !readOnly, let owner = try await datastores.blocking({ try store.owner() }), owner.server != serverID,
                owner.mayBeLive(at: now)
            {
                let minutes = Int(now.timeIntervalSince(owner.heartbeat) / 60)
                throw APIError.conflict(
                    "the datastore at \(path) is written by server \(owner.server.uuidString.lowercased()), whose last "
                        + "heartbeat was \(minutes) minute(s) ago: two servers writing one datastore would collect each "
                        + "other's chunks. Attach it with --read-only to restore from it now, or stop that server and "
                        + "attach it again once its heartbeat is \(2 * owner.interval / 60 + 5) minutes old")
            }
            let found = try await datastores.blocking { try DatastoreAttach.describe(store, as: name, now: now) }
            _ = try await catalog.attachDatastore(
                name: name, path: path, chunkSize: try ChunkSize(bytes: store.chunkSize), s3: s3, readOnly: readOnly,
                vms: found.vms, points: found.points, now: now)
            if !readOnly { await recordOwner(of: store) }
            let (groups, notes) = await importProtection(from: store, into: name)
            return DatastoreAttachResult(
                datastore: try await show(catalog.datastore(named: name)), vms: found.vms.count,
                points: found.points.count, damaged: found.damaged, groups: groups.map(\.rawValue), notes: notes)
        } catch {
            await datastores.forget(at: path.path)
            throw error
        }
    }

    /// Restores, from the newest catalog copy in the datastore, the groups (policies, members) that kept their
    /// points there and each point's group and retention. The attach stands without it: a copy that does not read
    /// is said in the notes.
    func importProtection(from store: Datastore, into name: ResourceName) async -> ([ResourceName], [String]) {
        let temporary = "\(scratch)/attach-\(UUID().uuidString.prefix(8)).sqlite"
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: temporary + suffix) }
        }
        do {
            guard let newest = try await datastores.blocking({ try store.newestCatalogCopy() }) else {
                return ([], ["no catalog copy in the datastore: groups and policies are not restored; protect the VMs again"])
            }
            try await datastores.blocking {
                try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: newest, toPath: temporary)
            }
            let copy = try await Catalog.open(path: temporary)
            let imported = try await catalog.importProtection(from: copy, into: name)
            let copyName = URL(fileURLWithPath: newest).lastPathComponent
            return (
                imported.groups,
                ["from catalog copy \(copyName): \(imported.groups.count) group(s), \(imported.members) member(s), \(imported.points) point(s) restored"]
                    + imported.skipped
            )
        } catch {
            return ([], ["the catalog copy could not be read (\(error)); groups and policies are not restored: protect the VMs again"])
        }
    }

    /// The datastore's folder: `--path`, or for S3 the cache folder (`--cache`, default under the data directory).
    func folder(_ body: DatastoreCreateRequest, name: ResourceName, s3: DatastoreS3Settings?) throws -> AbsolutePath {
        guard let folder = body.path ?? s3.map({ _ in "\(cacheRoot)/\(name.rawValue.lowercased())" }) else {
            throw APIError.invalid(
                "say where datastore \(name) is: --path DIR for a local datastore, or --s3 URL --bucket B "
                    + "--credentials-file FILE for one on S3")
        }
        return try AbsolutePath(parsing: folder, field: s3 == nil ? "--path" : "--cache")
    }

    /// The catalog's S3 settings from a request, checked as far as can be without the network.
    static func settings(_ request: DatastoreCreateRequest.S3, chunkSize: ChunkSize) throws -> DatastoreS3Settings {
        for (field, file) in [("--credentials-file", request.credentialsFile), ("--ca", request.caFile)] {
            guard let file else { continue }
            _ = try AbsolutePath(parsing: file, field: field)
        }
        var prefix = request.prefix ?? ""
        if !prefix.isEmpty, !prefix.hasSuffix("/") { prefix += "/" }
        var cacheSize: UInt64?
        if let text = request.cacheSize {
            let bytes = try ByteCount.parse(text, field: "--cache-size")
            // A commit reads its chunks from the cache while it uploads them: a cache smaller than a few chunks
            // would evict what the next read needs.
            guard bytes >= Int64(chunkSize.bytes) * 16 else {
                throw APIError.invalid(
                    "--cache-size \(text) is below 16 chunks of \(chunkSize.bytes / 1_048_576) MiB; give at least "
                        + "\(chunkSize.bytes * 16 / 1_048_576)M")
            }
            cacheSize = UInt64(bytes)
        }
        return DatastoreS3Settings(
            endpoint: request.endpoint, bucket: request.bucket, region: request.region ?? "us-east-1", prefix: prefix,
            credentialsFile: request.credentialsFile, caFile: request.caFile, cacheSize: cacheSize)
    }

    func show(_ info: DatastoreInfo) async throws -> DatastoreView {
        var view = Self.view(info)
        if let s3 = info.s3 {
            var bucket = DatastoreView.S3(
                endpoint: s3.endpoint, bucket: s3.bucket, region: s3.region, prefix: s3.prefix, cacheSize: s3.cacheSize)
            do {
                let usage = try await datastores.withStore(at: info.path.path) { try $0.objectStore?.usage(prefix: "") }
                bucket.reachable = true
                bucket.objects = usage?.objects
                bucket.bytes = usage?.bytes
            } catch {
                bucket.reachable = false
                view.problem = "cannot list the datastore's bucket: \(error)"
            }
            view.s3 = bucket
        }
        do {
            let path = info.path.path
            view.catalogCopy = try await datastores.withStore(at: path) { try $0.catalogCopies().last?.takenAt }
            view.usage = try await datastores.withStore(at: path, fresh: true) { store in
                let statistics = try store.statistics()
                var fs = statvfs()
                let free = statvfs(path, &fs) == 0 ? UInt64(fs.f_bavail) * UInt64(fs.f_frsize) : nil
                return DatastoreView.Usage(
                    recoveryPoints: statistics.pointCount, logicalBytes: statistics.logicalBytes,
                    storedBytes: statistics.storedBytes, chunks: statistics.chunkCount,
                    dedupRatio: statistics.dedupRatio, compressionRatio: statistics.compressionRatio, freeBytes: free)
            }
        } catch {
            view.problem = [view.problem, "cannot read the datastore: \(error)"].compactMap { $0 }.joined(separator: "; ")
        }
        return view
    }

    static func view(_ info: DatastoreInfo) -> DatastoreView {
        DatastoreView(
            name: info.name.rawValue, path: info.path.path, chunkSize: info.chunkSize.bytes, createdAt: info.createdAt,
            groups: info.groups.map(\.rawValue),
            s3: info.s3.map {
                DatastoreView.S3(
                    endpoint: $0.endpoint, bucket: $0.bucket, region: $0.region, prefix: $0.prefix, cacheSize: $0.cacheSize)
            }, readOnly: info.readOnly)
    }
}

