import BulwarkAPI
import BulwarkClient
import BulwarkServer
import Foundation
import TestSupport
import Testing

/// `/v1/datastores` against a running server: the datastore is made on disk and recorded, bad values are refused
/// with the rule they broke, and a refusal leaves nothing behind.
@Suite struct DatastoreAPITests {
    @Test func createListAndShow() async throws {
        let folder = try TemporaryDirectory("datastores")
        defer { folder.cleanUp() }
        try await withServer { client, _ in
            let created: DatastoreView = try await client.post(
                "/v1/datastores", DatastoreCreateRequest(name: "main", path: folder.file("main"), chunkSize: "1M"))
            #expect(created.name == "main")
            #expect(created.chunkSize == 1 << 20)
            #expect(created.usage?.recoveryPoints == 0)
            #expect(FileManager.default.fileExists(atPath: folder.file("main/.bulwark-datastore")))

            let list: [DatastoreView] = try await client.get("/v1/datastores")
            #expect(list.map(\.name) == ["main"])
            let shown: DatastoreView = try await client.get("/v1/datastores/main")
            #expect(shown.path == folder.file("main"))
            #expect(shown.usage?.freeBytes ?? 0 > 0)
            let status: ServerStatus = try await client.get("/v1/status")
            #expect(status.datastores == 1)
        }
    }

    @Test func refusalsNameTheRuleAndLeaveNothingBehind() async throws {
        let folder = try TemporaryDirectory("datastores")
        defer { folder.cleanUp() }
        try await withServer { client, _ in
            let _: DatastoreView = try await client.post(
                "/v1/datastores", DatastoreCreateRequest(name: "main", path: folder.file("main")))
            let cases: [(DatastoreCreateRequest, String)] = [
                (DatastoreCreateRequest(name: "main", path: folder.file("other")), "already exists"),
                (DatastoreCreateRequest(name: "x", path: folder.file("x")), "2–50 characters"),
                (DatastoreCreateRequest(name: "9lives", path: folder.file("n")), "letter"),
                (DatastoreCreateRequest(name: "inner", path: folder.file("main/inner")), "must not nest"),
                (DatastoreCreateRequest(name: "odd", path: folder.file("odd"), chunkSize: "3M"), "power of two"),
                (DatastoreCreateRequest(name: "huge", path: folder.file("huge"), chunkSize: "32M"), "16"),
                (DatastoreCreateRequest(name: "rel", path: "relative/dir"), "absolute"),
                (DatastoreCreateRequest(name: "proc", path: "/proc/bulwark-test"), "/proc/bulwark-test"),
            ]
            for (request, fragment) in cases {
                let error = await #expect(throws: ClientError.self) {
                    let _: DatastoreView = try await client.post("/v1/datastores", request)
                }
                #expect(error?.code == .rejected, "\(request.name): \(String(describing: error))")
                #expect(error?.message.contains(fragment) == true, "\(request.name): \(error?.message ?? "")")
            }
            let list: [DatastoreView] = try await client.get("/v1/datastores")
            #expect(list.map(\.name) == ["main"], "a refused create must not stay in the catalog")
            #expect(!FileManager.default.fileExists(atPath: folder.file("odd")))
        }
    }

    @Test func aFolderThatIsNotEmptyIsRefusedAndForgotten() async throws {
        let folder = try TemporaryDirectory("datastores")
        defer { folder.cleanUp() }
        try FileManager.default.createDirectory(atPath: folder.file("busy"), withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: folder.file("busy/file"), contents: Data("x".utf8)))
        try await withServer { client, _ in
            let error = await #expect(throws: ClientError.self) {
                let _: DatastoreView = try await client.post(
                    "/v1/datastores", DatastoreCreateRequest(name: "busy", path: folder.file("busy")))
            }
            #expect(error?.code == .rejected)
            let missing = await #expect(throws: ClientError.self) {
                let _: DatastoreView = try await client.get("/v1/datastores/busy")
            }
            #expect(missing?.code == .notFound)
        }
    }

    @Test func aBrokenDatastoreDoesNotHideTheOthersFromVerifyAndGC() async throws {
        let folder = try TemporaryDirectory("datastores")
        defer { folder.cleanUp() }
        try await withServer { client, _ in
            for name in ["good", "gone"] {
                let _: DatastoreView = try await client.post(
                    "/v1/datastores", DatastoreCreateRequest(name: name, path: folder.file(name)))
            }
            // The disk of one datastore went away (an unmounted file system looks like this).
            try FileManager.default.removeItem(atPath: folder.file("gone"))
            for endpoint in ["/v1/verify", "/v1/gc"] {
                let reports: [MaintenanceReport] = try await client.post(endpoint, [String: String]())
                #expect(reports.map(\.datastore) == ["gone", "good"], "\(endpoint)")
                #expect(reports.map(\.ok) == [false, true], "\(endpoint)")
                #expect(reports.first?.summary.contains(folder.file("gone")) == true, "\(endpoint): \(reports.first?.summary ?? "")")
            }
            let shown: DatastoreView = try await client.get("/v1/datastores/gone")
            #expect(shown.usage == nil)
            #expect(shown.problem?.contains("cannot read") == true)
        }
    }

    @Test func malformedBodiesAreBadRequestsNotServerErrors() async throws {
        try await withServer { client, _ in
            struct Wrong: Codable { var name: Int }
            let error = await #expect(throws: ClientError.self) {
                let _: DatastoreView = try await client.post("/v1/datastores", Wrong(name: 3))
            }
            #expect(error?.code == .rejected)
            #expect(error?.message.isEmpty == false)
        }
    }
}
