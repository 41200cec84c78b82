import BulwarkAPI
import BulwarkCore
import ChunkFormat
import Dispatch
import DomainXML
import Foundation
import GuestFiles
import Libvirt
import Logging
import NBD
import Synchronization

/// Runs a restore task on this host: writes each disk of a recovery point — to a new VM's files in a folder
/// (alternate location), or back over the VM's own disks, only the chunks that differ (original place) — and
/// defines the domain.
///
/// Chunks come from bulwarkd as they are stored (compressed), and each is checked against its digest before it is
/// written. Everything that can refuse the restore (the folder, the space, the name, path lengths, the VM's disks)
/// is checked before the first byte moves; a new VM's files are removed when the restore fails, and listed in the
/// scratch folder while it runs, so an agent that died mid-restore removes them when it starts again.
struct RestoreRunner {
    let task: AgentTask
    let restore: AgentRestore
    let host: String
    let hypervisor: Hypervisor
    let server: ServerConnection
    let scratchDirectory: String
    let logger: Logger
    let vmLocks: VMLocks

    /// Chunks in flight at once (fetched, checked or being written): enough to keep the network, the decoder and
    /// qemu-nbd busy on two cores.
    static let parallelFetches = 6

    var subject: String { "VM \(task.vmName) (\(task.vmUUID.uuidString.lowercased()))" }

    func run() async {
        await vmLocks.acquire(task.vmUUID)
        defer { Task { [vmLocks, task] in await vmLocks.release(task.vmUUID) } }
        let reporter = TaskReporter(taskID: task.id, server: server, logger: logger)
        await reporter.start()
        do {
            let (summary, received) = try await perform(reporter)
            await reporter.stop()
            _ = try await Retry.transient("report the end of restore \(task.id)", logger: logger) { () async throws(AgentError) in
                try await server.json(
                    .POST, "/v1/agent/tasks/\(task.id)/complete",
                    body: AgentTaskComplete(summary: summary, bytesReceived: received), as: JobView.self)
            }
            await reporter.close()
            logger.info("restore done: \(summary)", metadata: ["job": "\(task.id)"])
        } catch {
            await reporter.stop()
            await SyncRunner.finish(taskID: task.id, failure: error, server: server, logger: logger)
        }
    }

    /// One disk to write: where, in which format, and whether to compare with what is there.
    struct Target: Sendable {
        var disk: AgentRestore.Disk
        var path: String
        var format: String
        /// The file exists and holds the VM's current data: write only the chunks that differ.
        var inPlace: Bool
        /// The disk's size now, when it differs from the point's: it is resized back before any chunk is written.
        var resizeFrom: UInt64? = nil
        /// A new VM's file, made and held open by the agent: qemu-img and qemu-nbd reach it through the descriptor,
        /// so nothing done to the folder's path meanwhile redirects the write.
        var file: PinnedFile? = nil

        /// Where qemu-nbd writes the disk.
        var writePath: String { file?.stablePath ?? path }
    }

    func perform(_ reporter: TaskReporter) async throws -> (String, Int64) {
        await reporter.enter(.snapshot)
        if task.startAt > Date() { try await Task.sleep(for: .seconds(task.startAt.timeIntervalSinceNow)) }
        let throttle = try restore.throttle.map { text in
            do { return try Throttle(parsing: text) } catch { throw AgentError(.invalid, "\(error)") }
        }
        switch restore.mode {
        case "alternate":
            return try await alternate(reporter, throttle: throttle)
        case "original":
            return try await original(reporter, throttle: throttle)
        case "items":
            return try await items(reporter, throttle: throttle)
        default:
            throw AgentError(.invalid, "restore mode '\(restore.mode)' is not known to this agent; upgrade it")
        }
    }

    // MARK: - Alternate location

    private func alternate(_ reporter: TaskReporter, throttle: Throttle?) async throws -> (String, Int64) {
        guard let folder = restore.folder, let name = restore.name, let uuid = restore.uuid else {
            throw AgentError(.invalid, "the restore task names no folder, name or UUID for the new VM")
        }
        let format = restore.format ?? "qcow2"
        var targets = restore.disks.map { disk in
            Target(
                disk: disk, path: "\(folder)/\(name)-\(disk.target).\(format == "raw" ? "img" : "qcow2")",
                format: format, inPlace: false)
        }
        try await RestorePreflight.checkFolder(folder, files: targets.map(\.path), host: host,
            needed: restore.disks.reduce(0) { $0 + $1.dataBytes })
        let uuidText = uuid.uuidString.lowercased()
        let taken = try await hypervisor.run { connection -> String? in
            if (try? connection.domain(named: name)) != nil { return "a VM named \(name)" }
            if (try? connection.domain(uuid: uuidText)) != nil { return "a VM with UUID \(uuidText)" }
            return nil
        }
        if let taken {
            throw AgentError(.invalid, "host \(host) already has \(taken); choose another name (--name)")
        }
        let relocated = try await trustedDefinition(
            name: name, uuid: uuidText,
            disks: Dictionary(uniqueKeysWithValues: targets.map { ($0.disk.target, DomainAllowList.Disk(path: $0.path, format: format)) }),
            keepMACs: false, currentXML: nil, reporter: reporter,
            refusal: "the point's domain definition cannot be made into a new VM")
        let ledger = PartialRestores(scratchDirectory: scratchDirectory)
        try ledger.record(task: task.id, files: targets.map(\.path), domainUUID: uuidText)
        do {
            await reporter.log(.info, "restoring point \(restore.pointID) of \(subject) as new VM \(name) on \(host) in \(folder) (\(format))")
            let pinned = try await RestorePreflight.pinFolder(folder, host: host)
            for index in targets.indices {
                targets[index].file = try await RestorePreflight.create(targets[index], in: pinned)
            }
            let received = try await transfer(targets, reporter: reporter, throttle: throttle)
            await reporter.enter(.commit)
            try await hypervisor.run { _ = try $0.defineDomain(xml: relocated) }
            // Defined, the files are the VM's disks: nothing removes them from here on.
            try ledger.forget(task: task.id)
            let summary = "defined VM \(name) (\(uuidText)) on \(host) from point \(restore.pointID), disks "
                + targets.map { "\($0.disk.target)=\($0.path)" }.joined(separator: ", ")
            guard restore.start else { return (summary, received) }
            do {
                try await hypervisor.run { try $0.domain(uuid: uuidText).start() }
            } catch {
                throw AgentError(.libvirt, "\(summary), but it does not start: \(error); start it with `virsh start \(name)` once fixed", cause: error)
            }
            return (summary + "; started", received)
        } catch {
            ledger.removeFiles(task: task.id, logger: logger)
            throw error
        }
    }

    // MARK: - Items

    /// Files and folders copied out of the point into a folder on this host: the point's disks are read on demand,
    /// chunk by chunk from the server, by the same reader bulwarkd browses with.
    private func items(_ reporter: TaskReporter, throttle: Throttle?) async throws -> (String, Int64) {
        guard let folder = restore.folder, let items = restore.items, !items.isEmpty else {
            throw AgentError(.invalid, "the restore task names no folder or items")
        }
        await reporter.enter(.transfer)
        await reporter.log(.info, "copying \(items.joined(separator: ", ")) out of point \(restore.pointID) of \(subject) into \(folder) on \(host)")
        // One limiter for all disks: the throttle is the task's rate, not each disk's.
        let limiter = RateLimiter(throttle: throttle)
        var disks: [RemoteDisk] = []
        for disk in restore.disks {
            disks.append(RemoteDisk(target: disk.target, index: try await fetchIndex(disk.target), fetch: { digest in
                try await fetchChunk(digest)
            }, limiter: limiter))
        }
        let sources = disks
        let label = "point \(restore.pointID) of \(subject)"
        let report: GuestExtractor.Report
        do {
            // The guest's file systems are parsed by a sandboxed helper, never in the agent (it runs as root); the
            // extractor here writes what the helper reads, and removes what it made when it fails part-way.
            let sandbox = try GuestReaderSandbox.located()
            report = try await runOffCooperativePool { () throws -> GuestExtractor.Report in
                let reader = try GuestReader(disks: sources, label: label, sandbox: sandbox)
                defer { reader.close() }
                // No copy writes more than the point's disks hold, whatever sizes the guest's file systems claim.
                let limit = sources.reduce(UInt64(0)) { $0 + $1.size }
                return try GuestExtractor(browser: reader, byteLimit: limit).extract(items, into: folder)
            }
        } catch {
            throw AgentError(.local, "cannot copy the items into \(folder) on \(host): \(error)", cause: error)
        }
        for warning in report.warnings { await reporter.log(.warning, warning) }
        let received = disks.reduce(Int64(0)) { $0 + $1.received }
        await reporter.add(scanned: Int64(clamping: report.bytes), sent: received)
        return ("copied \(report.files) files, \(report.folders) folders and \(report.links) links (\(ByteCount.approximate(Int64(clamping: report.bytes)))) into \(folder) on \(host)"
            + (report.warnings.isEmpty ? "" : "; \(report.warnings.count) items skipped"), received)
    }

    // MARK: - Original place

    private func original(_ reporter: TaskReporter, throttle: Throttle?) async throws -> (String, Int64) {
        let uuid = task.vmUUID.uuidString.lowercased()
        let subject = subject
        let host = host
        let current = try await hypervisor.run { connection -> (running: Bool, disks: [String: (path: String?, format: String, size: UInt64)], name: String, xml: String) in
            let domain: Domain
            do {
                domain = try connection.domain(uuid: uuid)
            } catch let error as LibvirtError where error.code == .noDomain {
                throw AgentError(
                    .libvirt, "\(subject) is not defined on \(host); recover it as a new VM (--to-host HOST --path DIR)",
                    cause: error)
            }
            var disks: [String: (path: String?, format: String, size: UInt64)] = [:]
            for disk in try domain.description().protectableDisks {
                // A missing file has no size; it is made anew below.
                disks[disk.target] = (disk.sourcePath, disk.format ?? "raw", (try? domain.blockInfo(disk.target).capacity) ?? 0)
            }
            return (try domain.state().isActive, disks, domain.name, try domain.xml(inactive: true))
        }
        var targets: [Target] = []
        for disk in restore.disks {
            guard let now = current.disks[disk.target], let path = now.path else {
                throw AgentError(
                    .invalid,
                    "\(subject) has no file-backed disk \(disk.target) now, which the point holds; recover it as a new VM instead")
            }
            // A disk whose file is gone (the reason for many restores) is made anew and written in full.
            let present = FileManager.default.fileExists(atPath: path)
            guard ["qcow2", "raw"].contains(now.format) else {
                throw AgentError(.invalid, "disk \(disk.target) of \(subject) is a \(now.format) image; Bulwark writes qcow2 and raw disks back")
            }
            // A disk grown or shrunk since the point goes back to the point's size, as the rest of it goes back.
            let resize = present && now.size != disk.logicalSize ? now.size : nil
            targets.append(Target(disk: disk, path: path, format: now.format, inPlace: present, resizeFrom: resize))
        }
        // The point's definition, with its disks where they are now (a storage migration since the point moved
        // them): booting the paths the point was read from would start the VM on stale or missing files. Its name
        // and UUID are the VM's on this host, so a point cannot redefine another VM; the files the host's current
        // definition uses (kernel, NVRAM, console log) stay trusted.
        let xml = try await trustedDefinition(
            name: current.name, uuid: uuid,
            disks: Dictionary(uniqueKeysWithValues: targets.map { ($0.disk.target, DomainAllowList.Disk(path: $0.path, format: $0.format)) }),
            keepMACs: true, currentXML: current.xml, reporter: reporter,
            refusal: "the point's domain definition cannot be restored")
        if current.running {
            await reporter.log(.info, "stopping \(subject) (up to \(restore.shutdownTimeout) s to shut down, then hard)")
            try await stop(uuid: uuid, timeout: restore.shutdownTimeout)
        }
        await reporter.log(.info, "restoring point \(restore.pointID) of \(subject) over its disks on \(host)")
        for target in targets where !target.inPlace {
            await reporter.log(.warning, "disk \(target.disk.target): \(target.path) is missing; making it anew and writing it in full")
            try await RestorePreflight.create(target)
        }
        for target in targets {
            guard let size = target.resizeFrom else { continue }
            await reporter.log(
                .warning,
                "disk \(target.disk.target): \(target.path) is \(size) bytes now; resizing it to the point's \(target.disk.logicalSize) bytes")
            try await RestorePreflight.resize(target)
        }
        let received = try await transfer(targets, reporter: reporter, throttle: throttle)
        await reporter.enter(.commit)
        let restart = current.running || restore.start
        try await hypervisor.run { connection in
            let domain = try connection.defineDomain(xml: xml)
            if restart { try domain.start() }
        }
        return ("wrote point \(restore.pointID) back over the disks of \(subject) on \(host) ("
            + targets.map { "\($0.disk.target)=\($0.path)" }.joined(separator: ", ") + "), restored its definition"
            + (restart ? ", started it" : ""), received)
    }

    private func stop(uuid: String, timeout: Int) async throws {
        try? await hypervisor.run { try $0.domain(uuid: uuid).shutdown() }
        let deadline = Date().addingTimeInterval(TimeInterval(timeout))
        while Date() < deadline {
            if try await !hypervisor.run({ try $0.domain(uuid: uuid).state().isActive }) { return }
            try await Task.sleep(for: .milliseconds(500))
        }
        try await hypervisor.run { connection in
            let domain = try connection.domain(uuid: uuid)
            if try domain.state().isActive { try domain.destroy() }
        }
    }

    // MARK: - Transfer

    /// Writes every target's chunks; returns the bytes fetched from the server.
    private func transfer(_ targets: [Target], reporter: TaskReporter, throttle: Throttle?) async throws -> Int64 {
        await reporter.enter(.transfer)
        await reporter.addTotal(Int64(targets.reduce(0) { $0 + $1.disk.logicalSize }))
        let limiter = RateLimiter(throttle: throttle)
        var received: Int64 = 0
        for target in targets {
            let index = try await fetchIndex(target.disk.target)
            guard index.logicalSize == target.disk.logicalSize else {
                throw AgentError(.rejected, "the server's index of disk \(target.disk.target) does not match its size")
            }
            let writer: DiskWriter
            do {
                writer = try await DiskWriter.open(path: target.writePath, format: target.format)
            } catch {
                throw AgentError(.local, "cannot open \(target.path) (disk \(target.disk.target)) for writing on \(host): \(error)", cause: error)
            }
            received += try await write(index, to: writer, target: target, reporter: reporter, limiter: limiter)
            do {
                try await writer.finish()
            } catch {
                throw AgentError(.local, "cannot flush \(target.path) on \(host): \(error)", cause: error)
            }
            await reporter.log(.info, "disk \(target.disk.target) written to \(target.path)")
        }
        return received
    }

    private func write(
        _ index: FixedIndex, to writer: DiskWriter, target: Target, reporter: TaskReporter, limiter: RateLimiter
    ) async throws -> Int64 {
        let zero = ChunkDigest.zero(chunkSize: index.chunkSize)
        var received: Int64 = 0
        var skipped = 0
        try await withThrowingTaskGroup(of: (Int, Bool, Int64).self) { group in
            var next = 0
            func schedule() {
                guard next < index.chunkCount else { return }
                let chunk = next
                next += 1
                let digest = index[chunk]
                let range = index.range(ofChunk: chunk)
                let length = Int(range.upperBound - range.lowerBound)
                // Each chunk is fetched, checked and written by its own child task: fetches and checks of the
                // next chunks go on while one is written.
                group.addTask {
                    if target.inPlace {
                        let present = try await writer.read(offset: range.lowerBound, length: length)
                        let same = digest == zero ? EncodedChunk.isAllZero(present) : ChunkDigest.of(present) == digest
                        if same { return (chunk, false, 0) }
                    }
                    var bytes: ArraySlice<UInt8>
                    var fetched: Int64 = 0
                    if digest == zero {
                        guard target.inPlace else { return (chunk, false, 0) }
                        bytes = ArraySlice(repeating: 0, count: length)
                    } else {
                        let file = try await fetchChunk(digest)
                        await limiter.take(file.count)
                        fetched = Int64(file.count)
                        do {
                            bytes = try EncodedChunk.decode(file, digest: digest, chunkSize: index.chunkSize)
                        } catch {
                            throw AgentError(.rejected, "chunk \(digest) from the server does not check out: \(error)", cause: error)
                        }
                        guard bytes.count >= length else {
                            throw AgentError(.rejected, "chunk \(digest) holds \(bytes.count) bytes where disk \(target.disk.target) needs \(length)")
                        }
                        bytes = bytes.prefix(length)
                    }
                    do {
                        try await writer.write(bytes, offset: range.lowerBound)
                    } catch {
                        throw AgentError(
                            .local, "cannot write disk \(target.disk.target) to \(target.path) on \(host) (is the disk full?): \(error)",
                            cause: error)
                    }
                    return (chunk, true, fetched)
                }
            }
            for _ in 0..<Self.parallelFetches { schedule() }
            while let (chunk, written, fetched) = try await group.next() {
                let range = index.range(ofChunk: chunk)
                if !written { skipped += 1 }
                received += fetched
                await reporter.add(scanned: Int64(range.upperBound - range.lowerBound), sent: fetched)
                if await reporter.cancelRequested { throw AgentError(.cancelled, "cancelled by an admin") }
                schedule()
            }
        }
        if target.inPlace {
            await reporter.log(.info, "disk \(target.disk.target): \(index.chunkCount - skipped) of \(index.chunkCount) chunks differed and were written")
        }
        return received
    }

    private func fetchIndex(_ target: String) async throws -> FixedIndex {
        let path = "/v1/agent/tasks/\(task.id)/point/\(target)"
        let (_, bytes) = try await Retry.transient("fetch the index of disk \(target)", logger: logger) { () async throws(AgentError) in
            try await server.send(.GET, path, body: nil)
        }
        do {
            return try FixedIndex(decoding: bytes, source: "the index of disk \(target) of point \(restore.pointID)")
        } catch {
            throw AgentError(.rejected, "the server sent a damaged index for disk \(target)", cause: error)
        }
    }

    private func fetchChunk(_ digest: ChunkDigest) async throws -> [UInt8] {
        let path = "/v1/agent/tasks/\(task.id)/chunks/\(digest)"
        return try await Retry.transient("fetch chunk \(digest)", logger: logger) { () async throws(AgentError) in
            try await server.send(.GET, path, body: nil)
        }.body
    }
}

/// A disk image opened for writing through `qemu-nbd` (started by libnbd, so the image format is qemu's
/// business), its blocking calls on a queue of its own.
final class DiskWriter: @unchecked Sendable {
    // One call at a time on the handle, on a queue that keeps the blocking calls off the cooperative pool. Writes
    // that arrive while one is under way wait in `pending` and go out together next, as one batch of requests.
    private let connection: NBDConnection
    private let queue = DispatchQueue(label: "bulwark.restore.writer")
    private let pending = Mutex(Pending())

    private struct Pending: ~Copyable {
        var writes: [(bytes: ArraySlice<UInt8>, offset: UInt64, done: CheckedContinuation<Void, any Error>)] = []
        var draining = false
    }
    /// Whether qemu-nbd writes with direct I/O (else through the page cache).
    let direct: Bool

    private init(connection: NBDConnection, direct: Bool) {
        self.connection = connection
        self.direct = direct
    }

    /// Opens the image with direct I/O where its file system allows (not tmpfs), else through the page cache.
    ///
    /// Copying every written byte into the page cache was a fifth of a restore's CPU time here; direct writes
    /// cost next to none, and the restore flushes once at the end either way.
    static func open(path: String, format: String) async throws -> DiskWriter {
        try await open(path: path, format: format, directOptions: ["--cache=none", "--aio=native"])
    }

    /// ``open(path:format:)`` with the options that ask for direct I/O given (tests pass ones qemu-nbd refuses).
    static func open(path: String, format: String, directOptions: [String]) async throws -> DiskWriter {
        try await runOffCooperativePool { () throws -> DiskWriter in
            if let direct = try? NBDConnection(QemuNBD.command(["--format=\(format)"] + directOptions + [path])) {
                return DiskWriter(connection: direct, direct: true)
            }
            return DiskWriter(
                connection: try NBDConnection(QemuNBD.command(["--format=\(format)", "--cache=writeback", path])), direct: false)
        }
    }

    func write(_ bytes: ArraySlice<UInt8>, offset: UInt64) async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            let start = pending.withLock { state -> Bool in
                state.writes.append((bytes, offset, done))
                defer { state.draining = true }
                return !state.draining
            }
            if start { queue.async { self.drain() } }
        }
    }

    /// Writes what is pending, batch after batch, until nothing is.
    private func drain() {
        while true {
            let batch = pending.withLock { state in
                let batch = state.writes
                state.writes.removeAll()
                if batch.isEmpty { state.draining = false }
                return batch
            }
            if batch.isEmpty { return }
            let result = Result { try Self.withBuffers(batch.map(\.bytes)) { buffers in
                try connection.pwrite(Array(zip(buffers, batch.map(\.offset))))
            } }
            for write in batch { write.done.resume(with: result) }
        }
    }

    /// Calls `body` with every slice's bytes held in place at once.
    private static func withBuffers(
        _ slices: [ArraySlice<UInt8>], _ held: [UnsafeRawBufferPointer] = [],
        _ body: ([UnsafeRawBufferPointer]) throws -> Void
    ) throws {
        guard let first = slices.first else { return try body(held) }
        try first.withUnsafeBytes { try withBuffers(Array(slices.dropFirst()), held + [$0], body) }
    }

    func read(offset: UInt64, length: Int) async throws -> [UInt8] {
        try await on { try $0.read(offset: offset, length: length) }
    }

    func finish() async throws {
        try await on { try $0.flush() }
    }

    private func on<T: Sendable>(_ body: @escaping @Sendable (NBDConnection) throws -> T) async throws -> T {
        let connection = UncheckedConnection(connection)
        return try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body(connection.value) }) }
        }
    }

    private struct UncheckedConnection: @unchecked Sendable {
        let value: NBDConnection
        init(_ value: NBDConnection) { self.value = value }
    }
}

/// Holds a restore to its throttle: after each chunk, waits as long as the bytes so far need at the rate in force
/// now (none outside the throttle's window).
actor RateLimiter {
    private let throttle: Throttle?
    private var windowStart = ContinuousClock.now
    private var bytes: Int64 = 0

    init(throttle: Throttle?) { self.throttle = throttle }

    func take(_ count: Int) async {
        guard let throttle, let rate = throttle.limit(at: Date()) else {
            windowStart = .now
            bytes = 0
            return
        }
        bytes += Int64(count)
        let due = windowStart + .nanoseconds(Int64(Double(bytes) / Double(rate) * 1e9))
        if due > .now { try? await Task.sleep(until: due, clock: .continuous) }
        // A fresh window every so often, so an idle pause does not become a burst allowance.
        if ContinuousClock.now - windowStart > .seconds(10) {
            windowStart = .now
            bytes = 0
        }
    }
}

/// A disk of a recovery point read on demand from the server, chunk by chunk, for item-level recovery on this
/// host. libext2fs calls `read` from the extraction's own thread; each chunk is fetched (and checked against its
/// digest) once while it stays among the few kept.
final class RemoteDisk: GuestDisk, Sendable {
    let target: String
    private let index: FixedIndex
    private let fetch: @Sendable (ChunkDigest) async throws -> [UInt8]
    private let limiter: RateLimiter
    private let zero: ChunkDigest
    /// The few chunks kept, and the bytes received: behind a lock, as nothing but convention keeps a second thread
    /// (an appliance's NBD server, a second reader) away.
    private let state = Mutex<(cache: [(digest: ChunkDigest, bytes: [UInt8])], received: Int64)>(([], 0))
    var received: Int64 { state.withLock { $0.received } }

    init(target: String, index: FixedIndex, fetch: @escaping @Sendable (ChunkDigest) async throws -> [UInt8], limiter: RateLimiter) {
        self.target = target
        self.index = index
        self.fetch = fetch
        self.limiter = limiter
        zero = ChunkDigest.zero(chunkSize: index.chunkSize)
    }

    var size: UInt64 { index.logicalSize }

    func read(offset: UInt64, length: Int) throws -> [UInt8] {
        // The offsets come from guest data (partition tables, file systems): checked against the disk, never trusted.
        let (end, overflow) = offset.addingReportingOverflow(UInt64(clamping: max(0, length)))
        guard length >= 0, !overflow, end <= size else {
            throw AgentError(
                .rejected, "a read of \(length) bytes at \(offset) is beyond disk \(target), which has \(size) bytes: the guest's data is damaged")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        var position = offset
        while position < end {
            let chunk = Int(position / UInt64(index.chunkSize))
            let range = index.range(ofChunk: chunk)
            let take = Int(min(end, range.upperBound) - position)
            let start = Int(position - range.lowerBound)
            let digest = index[chunk]
            if digest == zero {
                bytes += repeatElement(0, count: take)
            } else {
                let plain = try plainChunk(digest)
                guard plain.count >= start + take else {
                    throw AgentError(.rejected, "chunk \(digest) of disk \(target) is shorter than the disk needs")
                }
                bytes += plain[start..<start + take]
            }
            position += UInt64(take)
        }
        return bytes
    }

    private func plainChunk(_ digest: ChunkDigest) throws -> [UInt8] {
        if let hit = state.withLock({ state in state.cache.first { $0.digest == digest }?.bytes }) { return hit }
        let file = try Self.wait { [fetch, limiter] in
            let file = try await fetch(digest)
            await limiter.take(file.count)
            return file
        }
        let plain = Array(try EncodedChunk.decode(file, digest: digest, chunkSize: index.chunkSize))
        state.withLock { state in
            state.received += Int64(file.count)
            state.cache.append((digest, plain))
            if state.cache.count > 8 { state.cache.removeFirst() }
        }
        return plain
    }

    /// Runs async work from this blocking thread (never a thread of the cooperative pool) and waits for it.
    private static func wait<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let semaphore = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        Task {
            do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
            semaphore.signal()
        }
        semaphore.wait()
        return try box.result!.get()
    }

    private final class ResultBox<T>: @unchecked Sendable {
        var result: Result<T, any Error>?
    }
}
