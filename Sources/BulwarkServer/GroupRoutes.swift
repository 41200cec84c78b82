import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Hummingbird
import Logging

/// `/v1/groups`: protection groups, their policies and members.
struct GroupRoutes {
    let catalog: Catalog
    let datastores: Datastores
    let taskSignal: TaskSignal
    let logger: Logger

    func register(on group: RouterGroup<BulwarkRequestContext>) {
        group.post("groups") { request, context in
            let body = try await request.decode(as: GroupCreateRequest.self, context: context)
            let name = try ResourceName(body.name, field: "group name")
            let datastore = try ResourceName(body.datastore, field: "--datastore")
            let policy = try ProtectionPolicy.default.applying(body.policy, now: Date(), calendar: .current)
            let info = try await catalog.createGroup(name: name, datastore: datastore, policy: policy)
            return EditedResponse(status: .created, response: Self.view(info))
        }
        group.get("groups") { _, _ in
            try await catalog.groups().map { Self.view($0) }
        }
        group.get("groups/:name") { _, context in
            let name = try Self.name(context)
            var view = Self.view(try await catalog.group(named: name))
            let usage = try await catalog.groupUsage(named: name)
            view.usage = .init(
                storedBytes: usage.storedBytes, estimatedBytes: usage.estimatedBytes,
                dailyChangeBytes: usage.dailyChangeBytes, measured: usage.measured)
            return view
        }
        group.patch("groups/:name") { request, context in
            let body = try await request.decode(as: GroupModifyRequest.self, context: context)
            let name = try Self.name(context)
            guard !body.policy.isEmpty else {
                throw APIError.invalid("nothing to change: give at least one policy option, such as --retention-days")
            }
            let options = body.policy
            let now = Date()
            return Self.view(
                try await catalog.modifyGroupPolicy(named: name) { current in
                    try current.applying(options, now: now, calendar: .current)
                })
        }
        group.delete("groups/:name") { request, context in
            let name = try Self.name(context)
            let deleteData = request.uri.queryParameters["deleteData"].map { $0 == "true" } ?? false
            let info = try await catalog.group(named: name)
            var deleted: Int?
            if deleteData {
                // Every point the group made: of its members, and of VMs removed from it earlier without their data.
                let vms = Set(info.members.map(\.vmUUID)).union(try await catalog.vmsWithPoints(group: name))
                deleted = try await deletePoints(of: info, vms: vms.sorted { $0.uuidString < $1.uuidString })
            }
            var view = Self.view(try await catalog.deleteGroup(named: name))
            view.deletedPoints = deleted
            return view
        }
        group.post("groups/:name/members") { request, context in
            let body = try await request.decode(as: GroupMembersRequest.self, context: context)
            let references = try Self.references(body.vms)
            let info = try await catalog.addMembers(group: try Self.name(context), vms: references)
            var uuids: [UUID] = []
            for reference in references { uuids.append(try await catalog.resolveVM(reference).uuid) }
            var view = Self.view(info)
            view.initialReplicas = try await catalog.queueInitialReplicas(of: uuids).map { OperationRoutes.view($0) }
            if view.initialReplicas?.isEmpty == false { await taskSignal.notify() }
            return view
        }
        group.post("groups/:name/members/remove") { request, context in
            let body = try await request.decode(as: GroupMembersRequest.self, context: context)
            let name = try Self.name(context)
            let references = try Self.references(body.vms)
            var deleted: Int?
            if body.deleteData == true {
                // Every VM must be a member before any data goes: a refusal must not leave points deleted.
                let info = try await catalog.group(named: name)
                let members = Set(info.members.map(\.vmUUID))
                var uuids: [UUID] = []
                for reference in references {
                    let vm = try await catalog.resolveVM(reference)
                    guard members.contains(vm.uuid) else {
                        throw APIError.invalid("VM \(vm.reference) is not a member of protection group '\(name)'; nothing was removed")
                    }
                    uuids.append(vm.uuid)
                }
                deleted = try await deletePoints(of: info, vms: uuids)
            }
            var view = Self.view(try await catalog.removeMembers(group: name, vms: references))
            view.deletedPoints = deleted
            return view
        }
    }

    /// Deletes the recovery points the group made for `vms`: all their catalog rows in one transaction, refused
    /// whole while a lease or a restore reads any of them, then their files. A point the catalog lists is always
    /// whole; files a failure leaves behind are only space, which the start-up reconciliation collects.
    func deletePoints(of group: GroupInfo, vms: [UUID]) async throws -> Int {
        var points: [RecoveryPointInfo] = []
        for vm in vms {
            points += try await catalog.recoveryPoints(vm: vm).filter { $0.group == group.name }
        }
        let deleted = try await catalog.deleteRecoveryPoints(ids: points.map(\.id))
        let paths = try await datastores.catalogPaths()
        for point in deleted {
            guard let path = paths[point.datastore] else { continue }
            do {
                try await datastores.discardPoint(RecoveryPointRef(vm: point.vmUUID, point: point.id), at: path)
            } catch {
                logger.warning(
                    "the files of a deleted point remain; the next start of bulwarkd collects them",
                    metadata: ["point": "\(point.id)", "error": "\(error)"])
            }
        }
        return deleted.count
    }

    static func name(_ context: BulwarkRequestContext) throws -> ResourceName {
        try ResourceName(try context.parameters.require("name"), field: "group name")
    }

    static func references(_ texts: [String]) throws -> [VMReference] {
        guard !texts.isEmpty else { throw APIError.invalid("name at least one VM: HOST/NAME, UUID, or NAME") }
        return try texts.map { try VMReference(parsing: $0) }
    }

    static func view(_ info: GroupInfo) -> GroupView {
        GroupView(
            name: info.name.rawValue, datastore: info.datastore.rawValue, policy: info.policy,
            createdAt: info.createdAt, modifiedAt: info.modifiedAt,
            members: info.members.map { .init(uuid: $0.vmUUID, name: $0.vmName, host: $0.host, addedAt: $0.addedAt) })
    }
}
