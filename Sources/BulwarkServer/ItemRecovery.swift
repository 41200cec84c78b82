import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import Foundation
import GuestFiles
import Logging
import Subprocess

/// Item-level recovery, run by bulwarkd itself: files and folders out of a point's guest file systems, or whole
/// disks as images, into a folder on the server. Nothing is mounted and no VM starts; the point is read from the
/// datastore (files through ``GuestBrowser``, disks through an NBD export and `qemu-img convert`), and retention
/// keeps it while the job runs.
struct ItemRecovery: Sendable {
    let catalog: Catalog
    let exports: PointExports
    let browsers: PointBrowsers
    let partial: PartialItemCopies
    let logger: Logger

    /// What one job copies out.
    struct Plan: Sendable {
        var point: RecoveryPointInfo
        var vm: VMInfo
        var items: [String]
        var disks: [String]
        var folder: String
        var format: String
        var notify: URL?
    }

    /// Checks what can be checked before a job exists (the folder on the server, the disks; the request's values
    /// were checked by ``RecoveryRoutes/itemPlan(_:point:vm:)``), then starts the job.
    func start(_ plan: Plan) async throws -> JobInfo {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: plan.folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw APIError.invalid("--to-folder '\(plan.folder)' is not an existing folder on the server; create it first")
        }
        guard access(plan.folder, W_OK) == 0 else {
            throw APIError.invalid("--to-folder '\(plan.folder)' is not writable by bulwarkd")
        }
        // The lease comes before the first read of the point: retention cannot delete it under the copy.
        let lease = try await exports.hold(plan.point.id, holder: "item-level copy into \(plan.folder)")
        let job: JobInfo
        let disks: [RecoveryPointDisk]
        do {
            let datastore = try await catalog.datastore(named: plan.point.datastore)
            disks = try await exports.disks(plan.point, datastorePath: datastore.path.path)
            for target in plan.disks where !disks.contains(where: { $0.target == target }) {
                throw APIError.invalid("--disk \(target): point \(plan.point.id) has disks \(disks.map(\.target).joined(separator: ", "))")
            }
            for target in plan.disks {
                let file = "\(plan.folder)/\(Self.diskFile(plan, target))"
                guard !FileManager.default.fileExists(atPath: file) else {
                    throw APIError.conflict("\(file) exists already; choose another --to-folder or remove it")
                }
            }
            job = try await catalog.createJob(
                NewJob(kind: .recovery, subject: plan.vm.reference, vmUUID: plan.vm.uuid, datastore: plan.point.datastore))
        } catch {
            await exports.release(lease)
            throw error
        }
        _ = try await catalog.appendJobLog(
            id: job.id, level: .info,
            message: "item-level recovery of \(plan.vm.reference) from point \(plan.point.id) (\(plan.point.createdAt.formatted(.iso8601))) into \(plan.folder) on the server: "
                + (plan.items + plan.disks.map { "disk \($0)" }).joined(separator: ", "))
        let running = try await catalog.updateJob(id: job.id, JobUpdate(state: .running, phase: .transfer))
        Task.detached { [self] in
            await run(plan, job: job.id, disks: disks)
            await exports.release(lease)
        }
        return running
    }

    /// The file a `--disk` copy of `target` makes.
    private static func diskFile(_ plan: Plan, _ target: String) -> String {
        "\(plan.vm.name)-\(target).\(plan.format == "raw" ? "img" : "qcow2")"
    }

    private func run(_ plan: Plan, job: JobID, disks: [RecoveryPointDisk]) async {
        var warnings: [String] = []
        var made: [String] = []
        do {
            // Recorded before anything is written: a copy bulwarkd dies in is removed when it starts again.
            let itemNames = plan.items.compactMap { try? GuestBrowser.components($0).last }
            try partial.record(job: job.description, target: plan.folder, names: itemNames + plan.disks.map { Self.diskFile(plan, $0) })
            if !plan.items.isEmpty {
                let items = plan.items
                let folder = plan.folder
                // No copy writes more than the point's disks hold, whatever sizes the guest's file systems claim.
                let limit = disks.reduce(UInt64(0)) { $0 + $1.size }
                let report = try await browsers.use(plan.point, disks: disks) { browser in
                    try GuestExtractor(browser: browser, byteLimit: limit).extract(items, into: folder)
                }
                made += itemNames
                warnings += report.warnings
                for warning in report.warnings { _ = try await catalog.appendJobLog(id: job, level: .warning, message: warning) }
                _ = try await catalog.appendJobLog(
                    id: job, level: .info,
                    message: "copied \(report.files) files, \(report.folders) folders and \(report.links) links (\(ByteCount.approximate(Int64(clamping: report.bytes)))) into \(folder)")
            }
            for target in plan.disks {
                let file = "\(plan.folder)/\(Self.diskFile(plan, target))"
                try await copyDisk(target, of: plan.point, to: file, format: plan.format)
                made.append(Self.diskFile(plan, target))
                _ = try await catalog.appendJobLog(id: job, level: .info, message: "disk \(target) copied to \(file) (\(plan.format))")
            }
            partial.forget(job: job.description)
            let ended = try await catalog.updateJob(
                id: job,
                JobUpdate(
                    state: warnings.isEmpty ? .succeeded : .succeededWithWarnings, progress: 1,
                    error: warnings.isEmpty ? nil : "\(warnings.count) items skipped; see the log"))
            await notify(ended, plan.notify)
        } catch {
            let reason = (error as? GuestFilesError)?.message ?? "\(error)"
            logger.error("item-level recovery failed: \(reason)", metadata: ["job": "\(job)"])
            // What this job copied before a later part failed goes too, so a failed job leaves nothing; a part that
            // failed removed its own files already.
            for name in made { try? FileManager.default.removeItem(atPath: "\(plan.folder)/\(name)") }
            partial.forget(job: job.description)
            let ended = try? await catalog.updateJob(id: job, JobUpdate(state: .failed, error: reason))
            if let ended { await notify(ended, plan.notify) }
        }
    }

    /// A whole disk of the point as an image file: qemu-img reads the point's NBD export (skipping zeros).
    private func copyDisk(_ target: String, of point: RecoveryPointInfo, to file: String, format: String) async throws {
        let datastore = try await catalog.datastore(named: point.datastore)
        let session = try await exports.open(point, datastorePath: datastore.path.path)
        defer { Task { [exports] in _ = try? await exports.close(session.id) } }
        let source = "nbd+unix:///\(target)?socket=\(session.server.socketPath)"
        let outcome = try await Subprocess.run(
            .name("qemu-img"), arguments: ["convert", "-O", format, source, file], output: .discarded,
            error: .string(limit: 16 << 10))
        guard outcome.terminationStatus.isSuccess else {
            try? FileManager.default.removeItem(atPath: file)
            throw ServerError(
                .invalidRequest,
                "qemu-img could not copy disk \(target) to \(file): \(outcome.standardError.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    private func notify(_ job: JobInfo, _ url: URL?) async {
        await JobNotifier.post(job, to: url, logger: logger)
    }

    /// One folder of the point, for `GET /v1/browse`.
    func browse(_ point: RecoveryPointInfo, path: String) async throws -> BrowseView {
        let datastore = try await catalog.datastore(named: point.datastore)
        let disks = try await exports.disks(point, datastorePath: datastore.path.path)
        let entries: [GuestEntry]
        do {
            entries = try await browsers.use(point, disks: disks) { try $0.list(path) }
        } catch let error as GuestFilesError {
            switch error.code {
            case .notFound: throw APIError.notFound(error.message)
            case .invalid: throw APIError.invalid(error.message)
            default: throw APIError.conflict(error.message)
            }
        }
        return BrowseView(
            vm: point.vmUUID, point: point.id.description, path: path,
            entries: entries.map {
                BrowseView.Entry(
                    name: $0.name, kind: $0.kind.rawValue, size: $0.size, mode: String($0.mode, radix: 8),
                    modifiedAt: $0.kind == .filesystem ? nil : $0.modified, target: $0.target, fileSystem: $0.fileSystem,
                    label: $0.label)
            })
    }
}
