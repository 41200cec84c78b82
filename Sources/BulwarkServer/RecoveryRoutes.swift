import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import Foundation
import GuestFiles
import Hummingbird

/// `POST /v1/recover`: a restore job for the agent of the host the point is written to. Everything that can be
/// checked here is checked before the job exists; the agent checks the rest (free space, the folder, the name
/// in libvirt) before it moves any data.
struct RecoveryRoutes: Sendable {
    let catalog: Catalog
    let taskSignal: TaskSignal
    let items: ItemRecovery

    /// The longest path Linux takes, and the longest file name.
    static let pathMaximum = 4095
    static let nameMaximum = 255

    func register(on group: RouterGroup<BulwarkRequestContext>) {
        group.post("recover") { request, context in
            let body = try await request.decode(as: RecoveryRequest.self, context: context)
            let point = try await ExportRoutes.point(body.point, of: body.vm, in: catalog)
            let vm = try await catalog.vm(uuid: point.vmUUID)
            if body.items != nil || body.disks != nil || body.toFolder != nil {
                guard let host = body.toHost else {
                    let job = try await items.start(try Self.itemPlan(body, point: point, vm: vm))
                    return EditedResponse(status: .accepted, response: OperationRoutes.view(job))
                }
                // Onto an agent's host: a restore task that copies the items there.
                let plan = try Self.itemPlan(body, point: point, vm: vm)
                guard plan.disks.isEmpty else {
                    throw APIError.invalid("onto a host, name files and folders (--items); a whole disk goes to a host as a new VM (--to-host HOST --path DIR)")
                }
                let restore = TaskParameters.Restore(
                    point: point.id, mode: .items, host: host, folder: plan.folder, throttle: try Self.throttle(body),
                    notify: plan.notify, items: plan.items)
                let job = try await catalog.createRecoveryTask(NewRecovery(vmUUID: vm.uuid, restore: restore))
                await taskSignal.notify()
                return EditedResponse(status: .accepted, response: OperationRoutes.view(job))
            }
            if point.state == .damaged {
                // Refused by the catalog too; reading the point here names the chunks it lacks.
                let datastore = try await catalog.datastore(named: point.datastore)
                _ = try await items.exports.load(point, datastorePath: datastore.path.path)
            }
            let restore = try Self.restore(body, point: point, vm: vm)
            let job = try await catalog.createRecoveryTask(NewRecovery(vmUUID: vm.uuid, restore: restore))
            await taskSignal.notify()
            return EditedResponse(status: .accepted, response: OperationRoutes.view(job))
        }
        group.get("browse") { request, _ in
            guard let vm = request.uri.queryParameters["vm"] else {
                throw APIError.invalid("name the VM: ?vm=HOST/NAME, a UUID, or a unique NAME")
            }
            let point = try await ExportRoutes.point(
                String(request.uri.queryParameters["point"] ?? "latest"), of: String(vm), in: catalog)
            return try await items.browse(point, path: String(request.uri.queryParameters["path"] ?? "/"))
        }
    }

    /// The item-level part of a request: files (`items`) or whole disks (`disks`) into `toFolder` on the server.
    static func itemPlan(_ body: RecoveryRequest, point: RecoveryPointInfo, vm: VMInfo) throws -> ItemRecovery.Plan {
        guard body.to == nil, body.path == nil, body.name == nil, body.start == nil else {
            throw APIError.invalid("item-level recovery (--items, --disk) copies into --to-folder; leave out --to, --path, --name and --start")
        }
        guard let folder = body.toFolder else {
            throw APIError.invalid("--to-folder: name the folder the items are copied into")
        }
        guard folder.hasPrefix("/"), !folder.split(separator: "/").contains("..") else {
            throw APIError.invalid("--to-folder '\(folder)' must be an absolute folder without '..'")
        }
        guard body.items?.isEmpty == false || body.disks?.isEmpty == false else {
            throw APIError.invalid("name what to copy out: --items PATH... (see `bulwark browse`) or --disk TARGET")
        }
        for item in body.items ?? [] {
            do {
                guard try GuestBrowser.components(item).count >= 2 else {
                    throw APIError.invalid("--items '\(item)' names a whole file system; name a folder in it, or copy the disk with --disk")
                }
            } catch let error as GuestFilesError {
                throw APIError.invalid("--items: \(error.message)")
            }
        }
        guard body.throttle == nil || body.toHost != nil else {
            throw APIError.invalid("--throttle limits a restore's network use; item-level recovery into a folder on the server moves nothing over the network, so leave it out (or copy onto a host with --host)")
        }
        let format = body.format ?? "qcow2"
        guard ["qcow2", "raw"].contains(format) else {
            throw APIError.invalid("--format '\(format)': copy disks out as qcow2 or raw")
        }
        let notify = try body.notify.map { text in
            do { return try ServerConfiguration.parseWebhook(text) } catch {
                throw APIError.invalid("--notify '\(text)' is not an http or https URL with a host")
            }
        }
        return ItemRecovery.Plan(
            point: point, vm: vm, items: body.items ?? [], disks: body.disks ?? [], folder: folder, format: format,
            notify: notify)
    }

    /// The request's `--throttle`, parsed.
    static func throttle(_ body: RecoveryRequest) throws -> Throttle? {
        try body.throttle.map { text in
            do { return try Throttle(parsing: text) } catch { throw APIError.invalid("\(error)") }
        }
    }

    static func restore(_ body: RecoveryRequest, point: RecoveryPointInfo, vm: VMInfo) throws -> TaskParameters.Restore {
        let throttle = try Self.throttle(body)
        let notify = try body.notify.map { text in
            do { return try ServerConfiguration.parseWebhook(text) } catch {
                throw APIError.invalid("--notify '\(text)' is not an http or https URL with a host, such as https://chat.example.com/hooks/restores")
            }
        }
        let timeout = body.shutdownTimeout ?? 120
        guard (0...3600).contains(timeout) else {
            throw APIError.invalid("--shutdown-timeout \(timeout): give 0 to 3600 seconds")
        }
        switch body.to {
        case "original":
            guard body.path == nil, body.name == nil, body.format == nil else {
                throw APIError.invalid("a recovery to the original place writes the VM's own disks; leave out --path, --name and --format (or recover as a new VM with --to-host)")
            }
            guard let host = vm.host else {
                throw APIError.conflict("VM \(vm.reference) is not reported by any host, so it has no original place to go back to; recover it as a new VM (--to-host HOST --path DIR)")
            }
            if let toHost = body.toHost, toHost.lowercased() != host.lowercased() {
                throw APIError.invalid("VM \(vm.reference) lives on \(host), not \(toHost); --to original writes it back there")
            }
            return TaskParameters.Restore(
                point: point.id, mode: .original, host: host, start: body.start ?? false, shutdownTimeout: timeout,
                throttle: throttle, notify: notify)
        case nil:
            guard let host = body.toHost, !host.isEmpty else {
                throw APIError.invalid("say where the VM goes: --to original, or --to-host HOST --path DIR for a new VM")
            }
            guard let folder = body.path else {
                throw APIError.invalid("--path: name the folder on \(host) the new VM's disks are written to")
            }
            guard folder.hasPrefix("/"), !folder.split(separator: "/").contains(".."), !folder.contains("\0") else {
                throw APIError.invalid("--path '\(folder)' must be an absolute folder without '..'")
            }
            let name = body.name ?? "\(vm.name)-restored"
            guard (1...200).contains(name.utf8.count), !name.contains("/"), !name.hasPrefix("."),
                name.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f })
            else {
                throw APIError.invalid("--name '\(name)' is not a VM name: 1 to 200 characters, no '/', no control characters, not starting with '.'")
            }
            let format = body.format ?? "qcow2"
            guard ["qcow2", "raw"].contains(format) else {
                throw APIError.invalid("--format '\(format)': write the disks as qcow2 or raw")
            }
            let trimmed = folder.count > 1 && folder.hasSuffix("/") ? String(folder.dropLast()) : folder
            for disk in vm.disks.map(\.target) {
                let file = "\(name)-\(disk).\(format == "raw" ? "img" : "qcow2")"
                guard file.utf8.count <= nameMaximum, "\(trimmed)/\(file)".utf8.count <= pathMaximum else {
                    throw APIError.invalid(
                        "the disk file \(trimmed)/\(file) is longer than Linux allows (\(nameMaximum) bytes a name, \(pathMaximum) a path); choose a shorter --name or --path")
                }
            }
            return TaskParameters.Restore(
                point: point.id, mode: .alternate, host: host, folder: trimmed, name: name, uuid: UUID(),
                format: format, start: body.start ?? false, shutdownTimeout: timeout, throttle: throttle, notify: notify)
        case let other?:
            throw APIError.invalid("--to '\(other)': the only place is `original`; for a new VM give --to-host HOST --path DIR")
        }
    }
}
