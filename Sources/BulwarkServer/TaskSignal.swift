/// Wakes agents' waiting polls when a task is queued, so that a sync starts at once instead of when the poll next
/// looks at the queue.
///
/// A poll still looks at the queue on its own every ``AgentRoutes/pollInterval``: tasks whose start time comes
/// (an initial replica at a set time) are found that way, and a missed wake-up costs only that interval.
actor TaskSignal {
    private var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var next = 0

    /// Wakes every waiting poll.
    func notify() {
        let woken = waiters.values
        waiters.removeAll()
        for waiter in woken { waiter.resume() }
    }

    /// Returns after `duration`, or earlier when ``notify()`` is called.
    func wait(upTo duration: Duration) async {
        let id = next
        next += 1
        await withCheckedContinuation { continuation in
            waiters[id] = continuation
            Task { [weak self] in
                try? await Task.sleep(for: duration)
                await self?.expire(id)
            }
        }
    }

    private func expire(_ id: Int) {
        waiters.removeValue(forKey: id)?.resume()
    }
}
