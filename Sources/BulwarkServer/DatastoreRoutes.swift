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

    func register(on group: RouterGroup<BulwarkRequestContext>) {
        group.post("datastores") { request, context in
            let body = try await request.decode(as: DatastoreCreateRequest.self, context: context)
            let view = try await create(body)
            return EditedResponse(status: .created, response: view)
        }
        group.get("datastores") { _, _ in
            try await catalog.datastores().map { Self.view($0) }
        }
        group.get("datastores/:name") { _, context in
            let name = try ResourceName(try context.parameters.require("name"), field: "datastore name")
            return try await show(try await catalog.datastore(named: name))
        }
    }

    /// Records the datastore, then makes its folder; a failure on disk takes the catalog entry back out, so the
    /// two never disagree.
    func create(_ body: DatastoreCreateRequest) async throws -> DatastoreView {
        let name = try ResourceName(body.name, field: "datastore name")
        let path = try AbsolutePath(parsing: body.path, field: "--path")
        let chunkSize = try body.chunkSize.map { try ChunkSize(parsing: $0) } ?? .default
        let info = try await catalog.addDatastore(name: name, path: path, chunkSize: chunkSize)
        do {
            _ = try await datastores.create(at: path.path, chunkSize: chunkSize.bytes)
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

    func show(_ info: DatastoreInfo) async throws -> DatastoreView {
        var view = Self.view(info)
        do {
            let path = info.path.path
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
            view.problem = "cannot read the datastore: \(error)"
        }
        return view
    }

    static func view(_ info: DatastoreInfo) -> DatastoreView {
        DatastoreView(
            name: info.name.rawValue, path: info.path.path, chunkSize: info.chunkSize.bytes, createdAt: info.createdAt,
            groups: info.groups.map(\.rawValue))
    }
}

