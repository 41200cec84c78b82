import BulwarkClient
import BulwarkServer
import Foundation
import Logging
import ServiceLifecycle
import TestSupport

/// Runs a real `bulwarkd` API (TLS on 127.0.0.1, a free port, a fresh data directory) for one test.
/// `configure` changes the configuration before it starts.
func withServer(
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (BulwarkAPIClient, ServerDataDirectory) async throws -> Void
) async throws {
    let directory = try TemporaryDirectory("bulwarkd")
    defer { directory.cleanUp() }
    var logger = Logger(label: "bulwarkd-test")
    logger.logLevel = .warning
    let (addresses, published) = AsyncStream.makeStream(of: String.self)
    var configuration = ServerConfiguration(dataDirectory: directory.path, host: "127.0.0.1", port: 0)
    configure(&configuration)
    let api = try await BulwarkServerApplication.make(
        configuration: configuration, logger: logger,
        onRunning: { published.yield($0) })
    let group = ServiceGroup(configuration: .init(services: api.map { .init(service: $0) }, logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var iterator = addresses.makeAsyncIterator()
        guard let url = await iterator.next() else { throw TestFailure("bulwarkd did not start") }
        let data = ServerDataDirectory(path: directory.path)
        let client = try BulwarkAPIClient(
            configuration: try ClientConfiguration.resolve(
                server: url, token: nil, ca: nil, environment: ["BULWARK_DATA_DIR": directory.path]))
        do {
            try await body(client, data)
        } catch {
            await client.shutdown()
            await group.triggerGracefulShutdown()
            throw error
        }
        await client.shutdown()
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}
