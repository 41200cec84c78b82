public import BulwarkCore
public import Foundation

/// A status report of a running task: phase, progress and the log lines since the last report.
public struct TaskStatus: Hashable, Sendable {
    /// A log line the agent wrote.
    public struct Line: Hashable, Sendable {
        public var time: Date
        public var level: JobLogLevel
        public var message: String

        public init(time: Date, level: JobLogLevel, message: String) {
            self.time = time
            self.level = level
            self.message = message
        }
    }

    public var phase: JobPhase?
    public var progress: TaskProgress?
    public var log: [Line]

    public init(phase: JobPhase? = nil, progress: TaskProgress? = nil, log: [Line] = []) {
        self.phase = phase
        self.progress = progress
        self.log = log
    }
}
