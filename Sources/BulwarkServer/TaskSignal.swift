/// Wakes waiting requests when something they wait for may have happened: agents' task polls when a task is queued
/// (so that a sync starts at once instead of when the poll next looks at the queue), and admins' job waits when a job
/// changed.
///
/// A wait still ends on its own after its duration: a task poll then looks at the queue again (tasks whose start time
/// comes, an initial replica at a set time, are found that way), a job wait answers the job as it is.
actor TaskSignal {
    /// Each waiter with the timer that ends its wait, cancelled when a notification ends it first.
    private var waiters: [Int: (continuation: CheckedContinuation<Void, Never>, timer: Task<Void, Never>?)] = [:]
    private var next = 0
    /// How many times ``notify()`` was called. A waiter that reads this before it reads the state it waits on, and
    /// passes it to ``wait(upTo:after:)``, cannot miss a change made in between.
    private(set) var generation = 0

    /// Wakes every waiting request.
    func notify() {
        generation &+= 1
        let woken = waiters.values
        waiters.removeAll()
        for waiter in woken {
            waiter.timer?.cancel()
            waiter.continuation.resume()
        }
    }

    /// Returns after `duration`, or earlier when ``notify()`` is called.
    func wait(upTo duration: Duration) async {
        await wait(upTo: duration, after: generation)
    }

    /// Returns after `duration`, or earlier when ``notify()`` is called; at once when it has been called since
    /// ``generation`` was `seen`.
    func wait(upTo duration: Duration, after seen: Int) async {
        guard seen == generation else { return }
        let id = next
        next += 1
        await withCheckedContinuation { continuation in
            waiters[id] = (continuation, nil)
            waiters[id]?.timer = Task { [weak self] in
                // A cancelled sleep means a notification ended the wait already.
                guard (try? await Task.sleep(for: duration)) != nil else { return }
                await self?.expire(id)
            }
        }
    }

    private func expire(_ id: Int) {
        waiters.removeValue(forKey: id)?.continuation.resume()
    }
}
