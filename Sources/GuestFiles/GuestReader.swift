import Foundation
import NBDServer
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A point's guest files read by `bulwark-guest-reader` in a sandbox (``GuestReaderSandbox``) instead of in this
/// process: libext2fs, the partition tables and libguestfs parse guest data there, and this side only serves the
/// disks read-only over NBD on a private socket and checks what comes back.
///
/// A crash or hang of the helper fails the one call it was answering, with an error naming the point and the
/// path; the reader is then ended (``isRunning`` false) and its owner starts another for the next call.
///
/// Calls block: use a reader from one thread at a time, off the cooperative pool.
public final class GuestReader: GuestTree {
    /// What the point is, for errors (`point P of VM X`).
    public let label: String
    private let sandbox: GuestReaderSandbox
    private let process: Process
    private let channel: GuestReaderChannel
    private let server: NBDServer
    private let folder: String
    private let diagnostics: Diagnostics
    private let watchdog = Watchdog()
    private var ended: GuestFilesError?

    /// Which answer the helper owes now (each new frame is another), and whether it was killed for taking too long.
    private final class Watchdog: Sendable {
        let state = Mutex<(generation: UInt64, fired: Bool)>((0, false))
    }

    /// The last of what the helper wrote to stderr, for errors.
    private final class Diagnostics: Sendable {
        let text = Mutex("")
        /// Signalled when the helper's stderr ends: all of it is in `text`.
        let ended = DispatchSemaphore(value: 0)
    }

    /// Serves `disks` over NBD on a socket in a new private folder and starts the helper on it.
    public init(disks: [any GuestDisk], label: String, sandbox: GuestReaderSandbox) throws(GuestFilesError) {
        self.label = label
        self.sandbox = sandbox
        // A write to a helper that died must fail as an error, not end this process.
        signal(SIGPIPE, SIG_IGN)
        let asRoot = geteuid() == 0
        var template = Array("\(sandbox.socketParent)/bulwark-reader-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw GuestFilesError(.unsupported, "cannot make a folder for the guest file reader's disks in \(sandbox.socketParent): \(String(cString: strerror(errno)))")
        }
        let folder = String(cString: made)
        self.folder = folder
        let socket = "disks.sock"
        do {
            let exports = try NBDExports(disks.map { disk in
                (name: disk.target, source: GuestDiskExport(disk: disk) as any NBDExportSource)
            })
            server = try NBDServer(socketPath: "\(folder)/\(socket)", exports: exports)
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw GuestFilesError(.unsupported, "cannot serve the disks of \(label) to the guest file reader: \(error)")
        }
        // The helper's user alone may reach the socket; the folder holds nothing else.
        if asRoot {
            chown(folder, sandbox.userID, sandbox.groupID)
            chown("\(folder)/\(socket)", sandbox.userID, sandbox.groupID)
        }
        let command = sandbox.command(socketFolder: folder, socket: socket, disks: disks.map(\.target), asRoot: asRoot)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = ["PATH": "/usr/bin:/bin"]
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            server.stop()
            try? FileManager.default.removeItem(atPath: folder)
            throw GuestFilesError(.unsupported, "cannot start the guest file reader (\(command[0])): \(error); install bubblewrap (apt-get install bubblewrap)")
        }
        self.process = process
        channel = GuestReaderChannel(
            input: output.fileHandleForReading.fileDescriptor, output: input.fileHandleForWriting.fileDescriptor)
        let diagnostics = Diagnostics()
        self.diagnostics = diagnostics
        let errorHandle = errors.fileHandleForReading
        let drain = Thread {
            while case let data = errorHandle.availableData, !data.isEmpty {
                let text = String(decoding: data, as: UTF8.self)
                diagnostics.text.withLock { $0 = String(($0 + text).suffix(2048)) }
            }
            diagnostics.ended.signal()
        }
        drain.name = "guest-reader-stderr"
        drain.start()
        // Kept open by `process` through the pipes; the channel uses the raw descriptors.
        self.pipes = (input, output, errors)
    }

    private let pipes: (Pipe, Pipe, Pipe)
    /// The socket folder goes once the helper has answered (it connects before it reads anything), so that a
    /// parent killed later leaves nothing in ``GuestReaderSandbox/socketParent``; the open connections stay.
    private var folderRemoved = false

    private func removeFolder() {
        guard !folderRemoved else { return }
        folderRemoved = true
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// The helper's process id on the host (bubblewrap's, whose children run the helper).
    public var pid: Int32 { process.processIdentifier }

    /// False once the helper ended (a crash, a hang it was stopped for, or ``close()``).
    public var isRunning: Bool { ended == nil && process.isRunning }

    deinit { close() }

    /// Ends the helper and stops serving the disks. Safe to call more than once.
    public func close() {
        if process.isRunning {
            try? pipes.0.fileHandleForWriting.close()
            // The helper ends when its input does; one that does not is killed.
            let deadline = ContinuousClock.now + .seconds(2)
            while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        ended = ended ?? GuestFilesError(.unsupported, "the guest file reader of \(label) was closed")
        server.stop()
        removeFolder()
    }

    // MARK: - GuestTree

    public func entry(_ path: String) throws -> GuestEntry {
        var entry: GuestEntry?
        try ask(.entry(path), path) { kind, payload in
            guard kind == .answer else { throw unexpected(kind, path) }
            entry = try GuestReaderWire.entry(payload)
            return true
        }
        return entry!
    }

    public func list(_ path: String) throws -> [GuestEntry] {
        var entries: [GuestEntry] = []
        try ask(.list(path), path) { kind, payload in
            guard kind == .answer else { throw unexpected(kind, path) }
            entries = try GuestReaderWire.entries(payload)
            return true
        }
        return entries
    }

    public func read(_ path: String, _ body: ([UInt8]) throws -> Void) throws {
        try ask(.read(path), path) { kind, payload in
            switch kind {
            case .piece:
                try body(payload)
                return false
            case .end: return true
            default: throw unexpected(kind, path)
            }
        }
    }

    private func unexpected(_ kind: GuestReaderWire.Kind, _ path: String) -> GuestFilesError {
        GuestFilesError(.corrupt, "the guest file reader of \(label) answered \(path) with a \(kind) frame out of turn")
    }

    /// Sends `request` and hands each frame of the answer to `frame` until it says the answer is complete. A
    /// failure frame is thrown as its error; anything else going wrong ends the helper (the stream of frames can
    /// no longer be trusted to line up) and is thrown naming the point and `path`.
    private func ask(
        _ request: GuestReaderRequest, _ path: String, _ frame: (GuestReaderWire.Kind, [UInt8]) throws -> Bool
    ) throws {
        if let ended { throw ended }
        arm()
        defer { disarm() }
        guard channel.send(.request, GuestReaderWire.encode(request)) else { throw died(path) }
        while true {
            let received: (GuestReaderWire.Kind, [UInt8])?
            do {
                received = try channel.receive()
            } catch {
                throw abandon(error)
            }
            guard let (kind, payload) = received else { throw died(path) }
            arm()
            removeFolder()
            if kind == .failure { throw GuestReaderWire.failure(payload) }
            let done: Bool
            do {
                done = try frame(kind, payload)
            } catch {
                throw abandon(error)
            }
            if done { return }
        }
    }

    /// Ends the helper after a failure part-way through an answer, and keeps `error` as the reason for later calls.
    private func abandon(_ error: any Error) -> any Error {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        ended = error as? GuestFilesError ?? GuestFilesError(.corrupt, "the guest file reader of \(label) was stopped: \(error)")
        return error
    }

    /// The error for a helper that stopped answering: crashed, killed by the watchdog, or out of a limit.
    private func died(_ path: String) -> GuestFilesError {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let timedOut = watchdog.state.withLock { $0.fired }
        let status = process.terminationStatus
        let how: String
        if timedOut {
            how = "did not answer within \(sandbox.answerTimeout) and was stopped"
        } else if process.terminationReason == .uncaughtSignal || status > 128 {
            // bubblewrap exits with 128 + the signal that ended the helper.
            let signal = process.terminationReason == .uncaughtSignal ? status : status - 128
            how = "crashed (signal \(signal)\(signal == SIGKILL ? ", which is also what a memory or CPU limit ends it with" : ""))"
        } else {
            how = "ended unexpectedly (exit status \(status))"
        }
        // What the helper (or bubblewrap, when the sandbox could not be made) said last explains most ends.
        _ = diagnostics.ended.wait(timeout: .now() + 1)
        let detail = diagnostics.text.withLock { $0 }.trimmingCharacters(in: .whitespacesAndNewlines)
        let error = GuestFilesError(
            .corrupt,
            "the guest file reader of \(label) \(how) while reading \(path)"
                + (detail.isEmpty ? "" : " (\(detail.suffix(400)))")
                + "; the guest's file system may be damaged or hostile: nothing else is affected, and the next browse starts a new reader")
        ended = error
        return error
    }

    /// Gives the helper ``GuestReaderSandbox/answerTimeout`` from now for its next frame.
    private func arm() {
        let generation = watchdog.state.withLock { state in
            state.generation += 1
            return state.generation
        }
        let pid = process.processIdentifier
        let timeout = sandbox.answerTimeout
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [watchdog] in
            let fire = watchdog.state.withLock { state in
                guard state.generation == generation else { return false }
                state.fired = true
                return true
            }
            if fire { kill(pid, SIGKILL) }
        }
    }

    private func disarm() { watchdog.state.withLock { $0.generation += 1 } }
}
