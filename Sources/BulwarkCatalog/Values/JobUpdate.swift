public import BulwarkCore

/// Changes to a job; nil leaves a field as it is.
public struct JobUpdate: Hashable, Sendable {
    public var state: JobState?
    public var phase: JobPhase?
    /// 0 to 1.
    public var progress: Double?
    public var error: String?

    public init(state: JobState? = nil, phase: JobPhase? = nil, progress: Double? = nil, error: String? = nil) {
        self.state = state
        self.phase = phase
        self.progress = progress
        self.error = error
    }
}
