import BulwarkAPI
import BulwarkClient
import Foundation
import TestSupport
import Testing

/// `bulwarkd` killed with SIGKILL while it writes: on restart the catalog opens, what was acknowledged is there, and
/// every datastore verifies.
@Suite struct ServerCrashTests {
    /// The `bulwarkd` binary the test bundle was built with: SwiftPM puts products beside the test bundle.
    static var bulwarkd: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var directory = bundle
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("bulwarkd").path),
            directory.path != "/"
        {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("bulwarkd").path
    }

    static func start(_ data: TemporaryDirectory) async throws -> (ChildProcess, BulwarkAPIClient) {
        try? FileManager.default.removeItem(atPath: data.file("address"))
        let server = try ChildProcess(Self.bulwarkd, ["--data-dir", data.path, "--listen", "127.0.0.1:0", "--log-level", "error"])
        try await waitUntil("bulwarkd to publish its address", seconds: 60) {
            guard server.isRunning else { throw TestFailure("bulwarkd exited: \(server.wait().output)") }
            return FileManager.default.fileExists(atPath: data.file("address"))
        }
        let client = try BulwarkAPIClient(
            configuration: try ClientConfiguration.resolve(
                server: nil, token: nil, ca: nil, environment: ["BULWARK_DATA_DIR": data.path]))
        return (server, client)
    }

    @Test func killedDuringWritesRestartsConsistent() async throws {
        let data = try TemporaryDirectory("bulwarkd-crash")
        let stores = try TemporaryDirectory("bulwarkd-crash-stores")
        defer {
            data.cleanUp()
            stores.cleanUp()
        }
        let (first, writerClient) = try await Self.start(data)
        let _: DatastoreView = try await writerClient.post(
            "/v1/datastores", DatastoreCreateRequest(name: "main", path: stores.file("main")))

        // Writers create groups and datastores as fast as the server takes them; the server dies under them.
        let acknowledged = try await withThrowingTaskGroup(of: [String].self) { tasks in
            for writer in 0..<3 {
                tasks.addTask {
                    var done: [String] = []
                    for index in 0..<1000 {
                        let name = "g\(writer)x\(index)"
                        do {
                            let _: GroupView = try await writerClient.post(
                                "/v1/groups", GroupCreateRequest(name: name, datastore: "main", policy: .init(retentionDays: "\(index % 400 + 1)")))
                            done.append(name)
                        } catch {
                            break
                        }
                    }
                    return done
                }
            }
            // Kill once writes are well under way, whatever the machine's speed.
            try await waitUntil("the writers to create some groups", seconds: 120) {
                let groups: [GroupView] = try await writerClient.get("/v1/groups")
                return groups.count >= 30
            }
            first.kill()
            return try await tasks.reduce(into: []) { $0 += $1 }
        }
        await writerClient.shutdown()
        #expect(!acknowledged.isEmpty, "the writers should have got some groups in before the kill")

        let (server, client) = try await Self.start(data)
        let groups: [GroupView] = try await client.get("/v1/groups")
        let names = Set(groups.map(\.name))
        #expect(acknowledged.allSatisfy(names.contains), "every acknowledged group survives the kill")
        let reports: [MaintenanceReport] = try await client.post("/v1/verify", [String: String]())
        #expect(reports.map(\.ok) == [true])
        let status: ServerStatus = try await client.get("/v1/status")
        #expect(status.datastores == 1)
        await client.shutdown()
        server.kill()
    }
}
