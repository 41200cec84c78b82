/// Where a job is in its life. Raw values are stored and sent: never change them.
///
/// ```
/// queued ──▶ running ──▶ succeeded | succeeded-with-warnings | failed | cancelled
///    └──────────────────▶ failed | cancelled
/// ```
public enum JobState: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case queued
    case running
    case succeeded
    case succeededWithWarnings = "succeeded-with-warnings"
    case failed
    case cancelled

    /// True once the job has ended; a finished job never changes state again.
    public var isFinished: Bool {
        switch self {
        case .queued, .running: false
        case .succeeded, .succeededWithWarnings, .failed, .cancelled: true
        }
    }

    /// Whether a job in this state may move to `next`. Staying in the same state is allowed while unfinished
    /// (progress updates); a job must run before it can succeed.
    public func canMove(to next: JobState) -> Bool {
        switch (self, next) {
        case (.queued, .queued), (.queued, .running), (.queued, .failed), (.queued, .cancelled): true
        case (.running, .queued): false
        case (.running, _): true
        default: false
        }
    }

    public var description: String { rawValue }
}
