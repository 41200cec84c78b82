/// Which failures are worth another attempt, and how long to wait before it.
///
/// Retried: 500, 502, 503, 504, the S3 codes `SlowDown`, `InternalError`, `ServiceUnavailable` and `RequestTimeout`
/// (the gateway's own read timeout), and lost or refused connections (a gateway restarting). Never retried: the rest
/// of 4xx (403, 404, 412: asking again gives the same answer), certificate failures, and a request that passed its
/// deadline (a hanging gateway would otherwise hold the caller for attempts × timeout).
public enum S3RetryPolicy {
    /// Whether an answer with HTTP `status` and S3 error code `s3Code` may succeed when sent again.
    public static func isRetryable(status: Int, s3Code: String?) -> Bool {
        if let s3Code, ["SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"].contains(s3Code) {
            return true
        }
        return [500, 502, 503, 504].contains(status)
    }

    /// Whether a request that failed without an answer may succeed when sent again.
    public static func isRetryable(_ error: S3Error) -> Bool {
        error.code == .unreachable
    }

    /// The pause before attempt `attempt + 1` after `attempt` failed (1-based): exponential from 100 ms, capped at
    /// 5 s, half of it random so that many clients hit by one outage do not come back in step.
    public static func delay(afterAttempt attempt: Int) -> Duration {
        let ceiling = min(5_000, 100 << min(max(attempt - 1, 0), 10))
        let half = ceiling / 2
        return .milliseconds(half + Int.random(in: 0...half))
    }
}
