/// How often a job that failed for a passing reason is tried again, and how long each try waits.
///
/// The waits grow fourfold from `firstDelay` (1, 4, 16 minutes by default), capped at ``maximumDelay``: an
/// agent that restarts is back within the first, a host that reboots within the second or third, and a fault that
/// lasts longer is the admin's to look at (the job's failure raises its alert).
public struct RetryPolicy: Hashable, Sendable, CustomStringConvertible {
    /// Tries after the first one; 0 never retries.
    public var retries: Int
    /// The wait before the second try, in seconds.
    public var firstDelay: Int64

    /// The longest wait between two tries, whatever the back-off says.
    public static let maximumDelay: Int64 = 3600

    /// No retries: failed jobs stay failed.
    public static let none = RetryPolicy(uncheckedRetries: 0, firstDelay: 60)
    /// What bulwarkd does unless told otherwise: three more tries, after 1, 4 and 16 minutes.
    public static let standard = RetryPolicy(uncheckedRetries: 3, firstDelay: 60)

    /// A policy of `retries` more tries (0–10), the first after `firstDelay` seconds (1 s to 1 h).
    public init(retries: Int, firstDelay: Int64) throws(ValidationError) {
        guard (0...10).contains(retries) else {
            throw ValidationError(
                field: "--retries", value: "\(retries)", rule: "must be from 0 to 10",
                fix: "give how many times a failed sync is tried again, e.g. 3; 0 turns retries off")
        }
        guard (1...Self.maximumDelay).contains(firstDelay) else {
            throw ValidationError(
                field: "--retry-delay", value: "\(firstDelay)s", rule: "must be from 1 second to 1 hour",
                fix: "give the wait before the first retry, e.g. 60s or 5m")
        }
        self.init(uncheckedRetries: retries, firstDelay: firstDelay)
    }

    private init(uncheckedRetries retries: Int, firstDelay: Int64) {
        self.retries = retries
        self.firstDelay = firstDelay
    }

    /// The wait in seconds before try `attempt` (2 is the first retry); nil when the policy allows no such try.
    public func delay(beforeAttempt attempt: Int) -> Int64? {
        guard attempt >= 2, attempt <= retries + 1 else { return nil }
        var delay = firstDelay
        for _ in 2..<attempt {
            delay = delay > Self.maximumDelay / 4 ? Self.maximumDelay : delay * 4
        }
        return min(delay, Self.maximumDelay)
    }

    public var description: String {
        retries == 0 ? "no retries" : "\(retries) retries, the first after \(TimeSpan(seconds: firstDelay))"
    }
}
