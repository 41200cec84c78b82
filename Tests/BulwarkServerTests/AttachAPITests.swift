import BulwarkAPI
import BulwarkClient
import BulwarkCore
import BulwarkServer
import BulwarkStore
import Foundation
import TestSupport
import Testing

/// `POST /v1/datastores/attach` against a running server, on datastores written here the way another server would
/// have left them.
@Suite struct AttachAPITests {
    /// A datastore with one point of a new VM, as another server left it.
    static func abandonedDatastore(at path: String) throws -> (Datastore, RecoveryPointRef) {
        let store = try Datastore.create(at: path, chunkSize: 64 << 10)
        let bytes = (0..<(64 << 10)).map { UInt8(truncatingIfNeeded: $0 * 7) }
        var index = try FixedIndex(chunkSize: store.chunkSize, logicalSize: UInt64(bytes.count))
        index[0] = try store.writeChunk(bytes).digest
        let manifest = RecoveryPointManifest(
            pointID: .generate(), vmUUID: UUID(), vmName: "db1", createdAt: Date(), domainXML: "<domain/>",
            consistency: .appConsistent, syncKind: .full, labels: ["host": "kvm9", "group": "gold"],
            retainUntil: Date().addingTimeInterval(9 * 86_400))
        try store.writeRecoveryPoint(manifest: manifest, indexes: ["vda": index])
        return (store, RecoveryPointRef(vm: manifest.vmUUID, point: manifest.pointID))
    }

    @Test func aLiveWriterIsRefusedAStaleOneIsTakenOver() async throws {
        let folder = try TemporaryDirectory("attach")
        defer { folder.cleanUp() }
        let (store, point) = try Self.abandonedDatastore(at: folder.file("old"))
        let other = UUID()
        try store.recordOwner(DatastoreOwner(server: other, heartbeat: Date(), interval: 3600))
        try await withServer { client, _ in
            let live = await #expect(throws: ClientError.self) {
                let _: DatastoreAttachResult = try await client.post(
                    "/v1/datastores/attach", DatastoreCreateRequest(name: "old", path: folder.file("old")))
            }
            #expect(live?.code == .rejected || live?.message.contains("--read-only") == true, "\(String(describing: live))")
            #expect(live?.message.contains(other.uuidString.lowercased()) == true)
            let listed: [DatastoreView] = try await client.get("/v1/datastores")
            #expect(listed.isEmpty, "a refused attach must leave nothing in the catalog")

            // Three hours of silence: the writer is gone, the datastore is taken over read-write.
            try store.recordOwner(DatastoreOwner(server: other, heartbeat: Date().addingTimeInterval(-3 * 3600), interval: 3600))
            let attached: DatastoreAttachResult = try await client.post(
                "/v1/datastores/attach", DatastoreCreateRequest(name: "old", path: folder.file("old")))
            #expect(attached.points == 1 && attached.vms == 1 && attached.damaged.isEmpty)
            #expect(!attached.datastore.readOnly)
            #expect(attached.notes.first?.contains("no catalog copy") == true, "\(attached.notes)")
            #expect(try store.owner()?.server != other, "the new server records itself as the writer")
            let points: [RecoveryPointView] = try await client.get("/v1/points?vm=\(point.vm.uuidString.lowercased())")
            #expect(points.map(\.id) == [point.point.description])
            let _: GroupView = try await client.post("/v1/groups", GroupCreateRequest(name: "gold", datastore: "old"))

            // What is not a datastore is refused with what to fix.
            let nothing = await #expect(throws: ClientError.self) {
                let _: DatastoreAttachResult = try await client.post(
                    "/v1/datastores/attach", DatastoreCreateRequest(name: "none", path: folder.file("none")))
            }
            #expect(nothing?.code == .rejected && nothing?.message.contains("not a datastore") == true, "\(String(describing: nothing))")
        }
    }
}
