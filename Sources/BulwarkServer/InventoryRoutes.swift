import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Hummingbird

/// `/v1/vms`, `/v1/vms/move`, `/v1/points`, `/v1/verify` and `/v1/gc`.
struct InventoryRoutes {
    let catalog: Catalog
    let stores: Datastores

    /// How long a chunk nobody references is kept before garbage collection removes it: longer than any sync
    /// could run, so chunks a running sync uploaded but has not committed yet survive.
    static let gcGracePeriod: Duration = .seconds(24 * 3600)

    func register(on group: RouterGroup<BulwarkRequestContext>) {
        group.get("vms") { request, _ in
            let host = request.uri.queryParameters["host"].map(String.init)
            let unprotected = request.uri.queryParameters["unprotected"] == "true"
            return try await catalog.vms(host: host, unprotectedOnly: unprotected).map(Self.view)
        }
        group.post("vms/move") { request, context in
            let body = try await request.decode(as: VMMoveRequest.self, context: context)
            let moved = try await catalog.moveVM(try VMReference(parsing: body.vm), toHost: body.toHost)
            context.logger.notice(
                "VM moved by an admin", metadata: ["vm": "\(moved.uuid)", "host": "\(moved.host ?? "-")"])
            return Self.view(moved)
        }
        group.get("points") { request, _ in
            guard let text = request.uri.queryParameters["vm"] else {
                throw APIError.invalid("name the VM: ?vm=HOST/NAME, a UUID, or a unique NAME")
            }
            let vm = try await catalog.resolveVM(try VMReference(parsing: String(text)))
            return try await catalog.recoveryPoints(vm: vm.uuid).map(Self.view)
        }
        group.post("verify") { request, _ in
            let targets = try await datastores(request)
            let subject = targets.count == 1 ? "datastore \(targets[0].name)" : "all datastores"
            return try await Verification.verify(catalog: catalog, stores: stores, datastores: targets, subject: subject).reports
        }
        group.post("gc") { request, _ in
            try await maintain(request) { store, name, writers in
                let report = try store.collectGarbage(gracePeriod: Self.gcGracePeriod, writersSince: writers)
                return MaintenanceReport(
                    datastore: name,
                    summary: "\(report.chunksRemoved) chunks (\(report.bytesRemoved) bytes) removed, "
                        + "\(report.chunksKeptForGracePeriod) kept for the grace period, "
                        + "\(report.incompletePointsRemoved) incomplete points removed",
                    ok: true)
            }
        }
    }

    /// Runs a maintenance pass on one datastore (`?datastore=NAME`) or on all of them, off the cooperative pool;
    /// `body` also gets when the oldest writer running on the datastore started.
    func maintain(
        _ request: Request, _ body: @escaping @Sendable (Datastore, String, Date?) throws -> MaintenanceReport
    ) async throws -> [MaintenanceReport] {
        let targets = try await datastores(request)
        var reports: [MaintenanceReport] = []
        for target in targets {
            let path = target.path.path
            let name = target.name.rawValue
            guard !target.readOnly else {
                reports.append(
                    MaintenanceReport(
                        datastore: name, summary: "attached read-only (another server writes to it): left alone", ok: true))
                continue
            }
            do {
                let writers = try await catalog.oldestRunningWriter(datastore: target.name)
                reports.append(try await stores.withStore(at: path, fresh: true) { try body($0, name, writers) })
            } catch {
                reports.append(MaintenanceReport(datastore: name, summary: "cannot run: \(error)", ok: false))
            }
        }
        return reports
    }

    /// The datastore `?datastore=NAME` names, or all of them.
    func datastores(_ request: Request) async throws -> [DatastoreInfo] {
        if let name = request.uri.queryParameters["datastore"] {
            return [try await catalog.datastore(named: try ResourceName(String(name), field: "--datastore"))]
        }
        return try await catalog.datastores()
    }

    static func view(_ info: VMInfo) -> VMView {
        VMView(
            uuid: info.uuid, name: info.name, host: info.host, state: info.state.rawValue,
            guestAgentAnswering: info.guestAgentAnswering, lastReportedAt: info.lastReportedAt,
            disks: info.disks.map { .init(target: $0.target, format: $0.format, capacityBytes: $0.capacityBytes, path: $0.path) },
            group: info.group?.rawValue)
    }

    static func view(_ info: RecoveryPointInfo) -> RecoveryPointView {
        RecoveryPointView(
            id: info.id.description, vm: info.vmUUID, vmName: info.vmName, group: info.group?.rawValue,
            datastore: info.datastore.rawValue, createdAt: info.createdAt, syncKind: info.syncKind,
            consistency: info.consistency, logicalBytes: info.logicalBytes, storedBytes: info.storedBytes,
            transferredBytes: info.transferredBytes, state: info.state, retainUntil: info.retainUntil)
    }
}
