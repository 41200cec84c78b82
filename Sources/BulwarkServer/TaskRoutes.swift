import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import Foundation
import Hummingbird

/// `/v1/backup`, `/v1/check` and `/v1/jobs/{id}/cancel`: the admin calls that queue agent tasks and stop them.
///
/// A queued task waits for the agent of the VM's host to claim it (`GET /v1/agent/tasks/next`); the answer is 202
/// with the job, which `GET /v1/jobs/{id}` follows.
struct TaskRoutes {
    let catalog: Catalog
    let taskSignal: TaskSignal

    func register(on group: RouterGroup<BulwarkRequestContext>) {
        group.post("backup") { request, context in
            let body = try await request.decode(as: BackupRequest.self, context: context)
            let vm = try await catalog.resolveVM(try VMReference(parsing: body.vm))
            let job = try await catalog.createTask(
                NewTask(vmUUID: vm.uuid, command: .sync, expressFull: body.expressFull, retainUntil: body.retainUntil))
            await taskSignal.notify()
            return EditedResponse(status: .accepted, response: OperationRoutes.view(job))
        }
        group.post("check") { request, context in
            let body = try await request.decode(as: CheckRequest.self, context: context)
            let uuids: [UUID]
            switch (body.vm, body.group) {
            case (let vm?, nil):
                uuids = [try await catalog.resolveVM(try VMReference(parsing: vm)).uuid]
            case (nil, let group?):
                let info = try await catalog.group(named: try ResourceName(group, field: "group name"))
                guard !info.members.isEmpty else {
                    throw APIError.invalid(
                        "protection group '\(info.name)' has no members to check; add VMs with `bulwark group add \(info.name) VM`")
                }
                uuids = info.members.map(\.vmUUID)
            default:
                throw APIError.invalid("name exactly one of vm or group to check, not \(body.vm == nil ? "neither" : "both")")
            }
            let jobs = try await catalog.createTasks(uuids.map { NewTask(vmUUID: $0, command: .consistencyCheck) })
            await taskSignal.notify()
            return EditedResponse(status: .accepted, response: jobs.map { OperationRoutes.view($0) })
        }
        group.post("jobs/:id/cancel") { _, context in
            let id = try JobID(parsing: try context.parameters.require("id"))
            return OperationRoutes.view(try await catalog.requestCancel(id: id))
        }
    }
}
