import BulwarkAPI
import BulwarkCore
import ChunkFormat
import Foundation
import Libvirt
import NBD
import Subprocess

extension SyncRunner {
    /// A shut-off VM: each disk exported read-only by `qemu-nbd`, with the checkpoint's bitmap when it can be used.
    ///
    /// No checkpoint is made (the disks do not change while the VM is off); an incremental point keeps the base's
    /// checkpoint, whose bitmap still covers every write since the base and so since this point.
    func syncShutOff(
        domain: DomainFacts, mode initialMode: Mode, bases: [String: FixedIndex], folder: String,
        reporter: TaskReporter
    ) async throws -> AgentCommitResult {
        var mode = initialMode
        if case .incremental(let name) = mode, !domain.checkpoints.contains(name) {
            mode = .consistencyCheck(reason: "checkpoint \(name) is not defined on this host")
            await reporter.log(.warning, "running a consistency check: \(mode.reason ?? "")")
        }
        if mode.checkpointName == nil { await removeStaleBitmaps(domain: domain, reporter: reporter) }
        await reporter.log(.info, "the VM is shut off: reading its disks with qemu-nbd (crash-consistent)")
        let uploader = ChunkUploader(server: server, taskID: task.id, known: Set(bases.values.flatMap(\.digests)), logger: logger)
        var indexes: [String: FixedIndex] = [:]
        var memos: [String: FingerprintMemo] = [:]
        await reporter.enter(.transfer)
        for disk in domain.disks {
            guard let path = disk.path else {
                throw AgentError(.local, "disk \(disk.target) of \(subject) has no file or device on this host")
            }
            do {
                let transferred = try await withOfflineExport(
                    disk: disk, path: path, bitmap: mode.checkpointName, folder: folder
                ) { endpoint in
                    let plans = try await planDisks(
                        [DiskSource(target: disk.target, capacity: disk.capacity, endpoint: endpoint, bitmap: mode.checkpointName)],
                        mode: mode, bases: bases, reporter: reporter)
                    return try await transfer(plans[0], uploader: uploader, reporter: reporter)
                }
                indexes[disk.target] = transferred.index
                memos[disk.target] = transferred.memo
            } catch let error as AgentError where error.code == .nbd && mode.checkpointName != nil {
                // qemu-nbd refuses a bitmap that is in use or inconsistent: the bitmap cannot be trusted.
                mode = .consistencyCheck(reason: "the bitmap of checkpoint \(mode.checkpointName ?? "") cannot be used: \(error.message)")
                await reporter.log(.warning, "running a consistency check: \(mode.reason ?? "")")
                await reporter.restartScan()
                return try await syncShutOff(
                    domain: domain, mode: mode, bases: bases, folder: folder, reporter: reporter)
            }
        }
        let checkpoint = mode.checkpointName != nil ? task.base?.checkpoint : nil
        let result = try await commit(
            mode: mode, consistency: .crashConsistent, domainXML: domain.xml, indexes: indexes, checkpoint: checkpoint,
            uploader: uploader, reporter: reporter)
        await keep(memos)
        return result
    }

    /// Runs `qemu-nbd --read-only` on one disk for the duration of `body`.
    func withOfflineExport<T: Sendable>(
        disk: DomainFacts.Disk, path: String, bitmap: String?, folder: String,
        _ body: (NBDEndpoint) async throws -> T
    ) async throws -> T {
        let socket = "\(folder)/\(disk.target).nbd.sock"
        var arguments = [
            "--read-only", "--persistent", "--shared=4", "--socket=\(socket)", "--format=\(disk.format)",
            "--export-name=\(disk.target)", "--cache=none", "--aio=native",
        ]
        if let bitmap { arguments.append("--bitmap=\(bitmap)") }
        arguments.append(path)
        let subject = subject
        let outcome = try await Subprocess.run(
            .name("qemu-nbd"), arguments: Arguments(arguments),
            environment: .inherit.updating(["GLIBC_TUNABLES": QemuNBD.tunables]), input: .none, output: .discarded,
            error: .string(limit: 16 << 10)
        ) { execution -> Result<T, any Error> in
            defer { try? execution.send(signal: .terminate) }
            // qemu-nbd makes the socket once it is ready; it exits at once when the image or bitmap is unusable.
            let deadline = ContinuousClock.now + .seconds(30)
            while !FileManager.default.fileExists(atPath: socket) {
                if ContinuousClock.now > deadline || kill(execution.processIdentifier.value, 0) != 0 {
                    return .failure(AgentError(.nbd, "qemu-nbd did not export disk \(disk.target) of \(subject) (\(path))"))
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            do {
                return .success(try await body(.unix(path: socket, export: disk.target)))
            } catch {
                return .failure(error)
            }
        }
        switch outcome.closureResult {
        case .success(let value):
            return value
        case .failure(let error as AgentError) where error.code == .nbd:
            let stderr = outcome.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            throw AgentError(.nbd, error.message + (stderr.isEmpty ? "" : ": qemu-nbd said: \(stderr)"), cause: error.cause)
        case .failure(let error):
            throw error
        }
    }
}
