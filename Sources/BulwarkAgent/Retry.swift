import Logging

/// Retries calls to the server that failed for a reason that may pass (the server restarting, a network blip),
/// with exponential back-off, so that a task survives the server being away for a few minutes.
enum Retry {
    /// Back-off steps in seconds: about five minutes in all before giving up.
    static let delays: [Double] = [0.5, 1, 2, 4, 8, 15, 30, 30, 30, 30, 30, 30, 30, 30, 30]

    static func transient<T: Sendable>(
        _ what: String, logger: Logger? = nil, _ body: @Sendable () async throws(AgentError) -> T
    ) async throws -> T {
        var attempt = 0
        while true {
            let failure: AgentError
            do {
                return try await body()
            } catch {
                failure = error
            }
            guard failure.isTransient, attempt < delays.count else { throw failure }
            logger?.warning("\(what) failed, retrying in \(delays[attempt]) s: \(failure)")
            try await Task.sleep(for: .milliseconds(Int(delays[attempt] * 1000)))
            attempt += 1
        }
    }
}
