import Dispatch

/// Runs blocking file-system work (datastore reads and writes) on a dispatch thread, never on Swift's cooperative
/// pool, whose few threads must stay free for requests.
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
