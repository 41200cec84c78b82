import BulwarkAPI
import BulwarkCatalog
import BulwarkClient
import BulwarkServer
import Foundation
import TestSupport
import Testing

/// bulwarkd writes a consistent copy of its catalog into every datastore, and the copy opens as a catalog that
/// knows the datastore and its groups.
@Suite struct CatalogCopyServerTests {
    @Test func everyDatastoreGetsACopyThatOpensAsTheCatalog() async throws {
        let folder = try TemporaryDirectory("catalog-copies")
        defer { folder.cleanUp() }
        try await withServer(configure: { $0.catalogCopyInterval = .seconds(1) }) { client, _ in
            let _: DatastoreView = try await client.post(
                "/v1/datastores", DatastoreCreateRequest(name: "main", path: folder.file("main"), chunkSize: "1M"))
            let _: GroupView = try await client.post(
                "/v1/groups", GroupCreateRequest(name: "gold", datastore: "main", policy: .init(replicaCreation: "manual")))
            var shown: DatastoreView?
            try await waitUntil("a catalog copy in datastore main that knows group gold", seconds: 60) {
                shown = try await client.get("/v1/datastores/main")
                guard shown?.catalogCopy != nil else { return false }
                // A copy may be replaced by a newer one between the listing and the open: the next look sees that.
                // Opened from a copy of its own: opening migrates and adds WAL files beside it.
                let opened = folder.file("opened-\(UUID().uuidString.prefix(6)).sqlite")
                guard let copies = try? FileManager.default.contentsOfDirectory(atPath: folder.file("main/.catalog")),
                    let newest = copies.sorted().last,
                    (try? FileManager.default.copyItem(atPath: folder.file("main/.catalog/\(newest)"), toPath: opened)) != nil,
                    let copy = try? Catalog(path: opened)
                else { return false }
                return (try? await copy.groups().map(\.name.rawValue)) == ["gold"]
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.file("main/.catalog")).count <= 3)
        }
    }
}
