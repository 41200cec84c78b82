import Dispatch

/// Runs blocking file-system work (reading and writing the identity, `fsync`) on a dispatch thread, never on Swift's
/// cooperative pool, whose few threads must stay free for the agent's network and libvirt work.
func runOffCooperativePool<T: Sendable, E: Error>(
    _ body: @escaping @Sendable () throws(E) -> T
) async throws(E) -> T {
    let result: Result<T, E> = await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: Result { () throws(E) in try body() }) }
    }
    return try result.get()
}
