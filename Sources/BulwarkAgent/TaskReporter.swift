import BulwarkAPI
public import BulwarkCore
import Foundation
public import Logging

/// Collects a task's phase, progress and log lines and sends them to the server about once a second; learns from
/// the answers whether an admin cancelled the job.
///
/// Log lines go to the agent's own log at once (with the job id), and to the job's log on the server in batches.
public actor TaskReporter {
    public nonisolated let taskID: String
    private let server: ServerConnection
    private let logger: Logger
    private var phase: JobPhase?
    private var progress = JobProgress(bytesTotal: 0, bytesScanned: 0, bytesSent: 0)
    private var progressChanged = false
    private var pending: [AgentTaskStatus.LogLine] = []
    private var flusher: Task<Void, Never>?
    /// Set once the server says the job was cancelled.
    public private(set) var cancelRequested = false
    /// Set once the task's outcome is recorded on the server (committed or finished): the job no longer takes
    /// status, so later lines (cleanup after a commit) go to the agent's own log only.
    private var closed = false

    public init(taskID: String, server: ServerConnection, logger: Logger) {
        self.taskID = taskID
        self.server = server
        var logger = logger
        logger[metadataKey: "job"] = "\(taskID)"
        self.logger = logger
    }

    /// Starts the periodic flush.
    public func start() {
        guard flusher == nil else { return }
        flusher = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                await self?.flush()
            }
        }
    }

    /// Stops the periodic flush and sends what is pending (unless the task's outcome is recorded already).
    public func stop() async {
        // The periodic flush may be sending now: let it end (its lines come back to `pending` if its request was
        // cut off) before the last flush, so no line is sent twice or lost.
        let running = flusher
        flusher = nil
        running?.cancel()
        await running?.value
        await flush()
    }

    /// The server recorded the task's outcome: keep logging locally, send nothing more.
    public func close() {
        closed = true
        pending.removeAll()
        flusher?.cancel()
        flusher = nil
    }

    public func log(_ level: JobLogLevel, _ message: String) {
        switch level {
        case .debug: logger.debug("\(message)")
        case .info: logger.info("\(message)")
        case .warning: logger.warning("\(message)")
        case .error: logger.error("\(message)")
        }
        if !closed { pending.append(.init(time: Date(), level: level.rawValue, message: message)) }
    }

    public func enter(_ phase: JobPhase) {
        self.phase = phase
        progressChanged = true
    }

    /// Adds bytes the sync will read, as each disk is planned.
    public func addTotal(_ bytes: Int64) {
        progress.bytesTotal += bytes
        progressChanged = true
    }

    /// Starts the bytes to read and read over, keeping the bytes sent: the sync falls back to a consistency check
    /// that plans and reads every disk again, and the progress must not count the first attempt's twice.
    public func restartScan() {
        progress.bytesTotal = 0
        progress.bytesScanned = 0
        progressChanged = true
    }

    public func add(scanned: Int64, sent: Int64) {
        progress.bytesScanned += scanned
        progress.bytesSent += sent
        progressChanged = true
    }

    /// Sends pending lines and progress. A failed send keeps them for the next try: the server may be away for a
    /// while, and the task goes on meanwhile.
    public func flush() async {
        guard !closed, progressChanged || !pending.isEmpty else { return }
        // The lines leave `pending` before the request: a flush that runs meanwhile (the actor is reentrant at the
        // await) sends only lines logged since, never these again.
        let lines = pending
        pending.removeAll()
        let changed = progressChanged
        progressChanged = false
        let status = AgentTaskStatus(phase: phase, progress: progress, log: lines)
        do {
            let control = try await server.json(
                .POST, "/v1/agent/tasks/\(taskID)/status", body: status, as: AgentTaskControl.self,
                timeout: .seconds(30))
            if control?.cancelRequested == true, !cancelRequested {
                cancelRequested = true
                logger.notice("the server asked to cancel this task")
            }
        } catch {
            if !closed {
                pending.insert(contentsOf: lines, at: 0)
                progressChanged = progressChanged || changed
            }
            // The periodic flush is cancelled when the task ends; its request going with it is expected.
            if Task.isCancelled { return }
            logger.warning("cannot report task status: \(error)")
            if error.code == .notFound || error.code == .rejected {
                // The server no longer runs this task (failed or cancelled meanwhile): stop working on it.
                cancelRequested = true
                pending.removeAll()
            }
        }
    }
}
