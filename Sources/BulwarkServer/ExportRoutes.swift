import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import Foundation
import Hummingbird

/// `/v1/exports`: recovery points served read-only over NBD (see ``PointExports``).
struct ExportRoutes: Sendable {
    let catalog: Catalog
    let exports: PointExports

    func register(on group: RouterGroup<BulwarkRequestContext>) {
        group.post("exports") { request, context in
            let body = try await request.decode(as: ExportRequest.self, context: context)
            let point = try await Self.point(body.point, of: body.vm, in: catalog)
            let datastore = try await catalog.datastore(named: point.datastore)
            let session = try await exports.open(point, datastorePath: datastore.path.path)
            return EditedResponse(status: .created, response: Self.view(session))
        }
        group.get("exports") { _, _ in await exports.list().map(Self.view) }
        group.get("exports/:id") { _, context in
            Self.view(try await exports.session(try context.parameters.require("id")))
        }
        group.delete("exports/:id") { _, context in
            Self.view(try await exports.close(try context.parameters.require("id")))
        }
    }

    /// The point `text` (an id, or `latest`: the newest restorable one) of the VM `vm` names.
    static func point(_ text: String, of vm: String, in catalog: Catalog) async throws -> RecoveryPointInfo {
        let info = try await catalog.resolveVM(try GroupRoutes.references([vm])[0])
        if text == "latest" {
            guard let newest = try await catalog.recoveryPoints(vm: info.uuid).first(where: { $0.state != .damaged }) else {
                throw APIError.notFound("VM \(info.reference) has no restorable recovery point; `bulwark points \(info.reference)` lists its points")
            }
            return newest
        }
        guard let id = RecoveryPointID(text) else {
            throw APIError.invalid("point '\(text)' is not a recovery point id (or `latest`); `bulwark points \(info.reference)` lists them")
        }
        let point = try await catalog.recoveryPoint(id: id)
        guard point.vmUUID == info.uuid else {
            throw APIError.notFound("point \(id) is not a point of VM \(info.reference); `bulwark points \(info.reference)` lists its points")
        }
        return point
    }

    static func view(_ session: PointExports.Session) -> ExportView {
        let socket = session.server.socketPath
        return ExportView(
            id: session.id, vm: session.point.vmUUID, vmName: session.point.vmName, point: session.point.id.description,
            pointCreatedAt: session.point.createdAt, socket: socket,
            disks: session.disks.map {
                ExportView.Disk(target: $0.target, sizeBytes: Int64($0.size), uri: "nbd+unix:///\($0.target)?socket=\(socket)")
            },
            createdAt: session.createdAt, connections: session.server.openConnections)
    }
}
