import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// A local HTTP endpoint that collects the JSON bodies posted to it, for the tests of webhooks and `--notify`.
final class Webhook<Body: Decodable & Sendable>: Sendable {
    let bodies = Mutex<[Body]>([])

    /// Runs `body` with the URL of a fresh endpoint and the endpoint, then stops it.
    static func with(_ body: (URL, Webhook<Body>) async throws -> Void) async throws {
        let hook = Webhook<Body>()
        let router = Router()
        router.post("hook") { request, context -> HTTPResponse.Status in
            let decoded = try await request.decode(as: Body.self, context: context)
            hook.bodies.withLock { $0.append(decoded) }
            return .ok
        }
        let (ports, published) = AsyncStream.makeStream(of: Int.self)
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { published.yield($0.localAddress?.port ?? 0) })
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            let group = ServiceGroup(configuration: .init(services: [application], logger: Logger(label: "webhook")))
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            do {
                try await body(URL(string: "http://127.0.0.1:\(port)/hook")!, hook)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
        }
    }

    /// What arrived within about five seconds: at least one body, or none.
    func received() async throws -> [Body] {
        for _ in 0..<100 {
            let now = bodies.withLock { $0 }
            if !now.isEmpty { return now }
            try await Task.sleep(for: .milliseconds(50))
        }
        return []
    }
}
