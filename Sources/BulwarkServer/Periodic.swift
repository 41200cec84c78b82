import Logging
import ServiceLifecycle

/// Runs `pass` now and then every `interval` until bulwarkd shuts down gracefully: the loop of every periodic
/// service (scheduler, retention, alerts). A failed pass is logged and the next one tries again.
func runPeriodically(
    every interval: Duration, logger: Logger, what: String, _ pass: @escaping @Sendable () async throws -> Void
) async throws {
    do {
        try await cancelWhenGracefulShutdown {
            while true {
                do {
                    try await pass()
                } catch {
                    logger.error("\(what) pass failed: \(error)")
                }
                try await Task.sleep(for: interval)
            }
        }
    } catch is CancellationError {
        logger.info("\(what) stopped")
    }
}
