import ArgumentParser
import BulwarkCatalog
import BulwarkCore
import BulwarkServer
import BulwarkStore
import Foundation

/// Times `datastore attach` of a datastore holding many points: reading every manifest and recording the VMs and
/// points in a fresh catalog, as a server rebuilt without its data directory does (JSON to stdout).
struct AttachBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attach",
        abstract: "Write a datastore with many points, then time attaching it to an empty catalog (JSON to stdout).")

    @Option(help: "VMs in the datastore.") var vms = 100
    @Option(help: "Recovery points in all.") var points = 10_000

    func run() async throws {
        guard vms > 0, points >= vms else { throw ValidationError("give at least one VM and one point per VM") }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bulwark-attach-bench-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("datastore").path
        let store = try Datastore.create(at: path, chunkSize: 1 << 20)
        // One disk of two chunks each: a zero chunk and one of the VM's own, so that indexes name stored chunks.
        let uuids = (0..<vms).map { _ in UUID() }
        var own: [ChunkDigest] = []
        for index in 0..<vms {
            own.append(try store.writeChunk(Array(repeating: UInt8(truncatingIfNeeded: index + 1), count: 4096)).digest)
        }
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for index in 0..<points {
            let vm = index % vms
            var disk = try FixedIndex(chunkSize: store.chunkSize, logicalSize: UInt64(store.chunkSize) * 2)
            disk[0] = store.zeroDigest
            disk[1] = own[vm]
            let manifest = RecoveryPointManifest(
                pointID: .generate(), vmUUID: uuids[vm], vmName: "vm\(vm)",
                createdAt: start.addingTimeInterval(Double(index) * 60), domainXML: "<domain/>",
                consistency: .crashConsistent, syncKind: .incremental, labels: ["host": "kvm1", "group": "gold"],
                retainUntil: start.addingTimeInterval(90 * 86_400))
            try store.writeRecoveryPoint(manifest: manifest, indexes: ["vda": disk])
        }

        let catalog = try await Catalog.open(path: directory.appendingPathComponent("catalog.sqlite").path)
        let began = Date()
        let name = try ResourceName("rescued")
        let opened = try Datastore.open(at: path)
        let found = try DatastoreAttach.describe(opened, as: name, now: Date())
        try await catalog.attachDatastore(
            name: name, path: try AbsolutePath(parsing: path), chunkSize: try ChunkSize(bytes: opened.chunkSize),
            vms: found.vms, points: found.points)
        let seconds = Date().timeIntervalSince(began)
        guard found.points.count == points, found.vms.count == vms, found.damaged.isEmpty else {
            throw ValidationError("attached \(found.points.count) points of \(found.vms.count) VMs, expected \(points) of \(vms)")
        }
        print(#"{"vms": \#(vms), "points": \#(points), "attachSeconds": \#(seconds)}"#)
    }
}
