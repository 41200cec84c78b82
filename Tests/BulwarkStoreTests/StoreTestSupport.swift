import BulwarkCore
import BulwarkStore
import Foundation
import TestSupport

/// The chunk size most tests use: the smallest allowed, so debug builds hash and compress little.
let smallChunk = 64 << 10

/// A fresh datastore in a temporary folder, removed after `body`.
func withDatastore<Result>(
    chunkSize: Int = smallChunk, _ body: (Datastore, TemporaryDirectory) throws -> Result
) throws -> Result {
    let folder = try TemporaryDirectory("bulwark-store")
    defer { folder.cleanUp() }
    let store = try Datastore.create(at: folder.file("store"), chunkSize: chunkSize)
    return try body(store, folder)
}

func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: count)
    for index in stride(from: 0, to: count, by: 8) {
        let word = generator.next() as UInt64
        for shift in 0..<min(8, count - index) { bytes[index + shift] = UInt8(truncatingIfNeeded: word >> (8 * shift)) }
    }
    return bytes
}

/// Text-like bytes that zstd shrinks a lot but that are not all one value.
func compressibleBytes(_ count: Int, seed: Int = 0) -> [UInt8] {
    let line = Array("line \(seed): the quick brown fox jumps over the lazy dog\n".utf8)
    return (0..<count).map { line[$0 % line.count] }
}

func sha256(_ bytes: [UInt8]) -> String {
    // ChunkDigest.of is SHA-256; ChunkTests checks it against the FIPS 180-2 test vector.
    ChunkDigest.of(bytes).description
}

/// Splits a disk image into chunks, stores them and returns its index.
func storeDisk(_ image: [UInt8], in store: Datastore) throws -> FixedIndex {
    var index = try FixedIndex(chunkSize: store.chunkSize, logicalSize: UInt64(image.count))
    for chunk in 0..<index.chunkCount {
        let range = index.range(ofChunk: chunk)
        index[chunk] = try store.writeChunk(Array(image[Int(range.lowerBound)..<Int(range.upperBound)])).digest
    }
    return index
}

/// A manifest for a new point of `vm` (a fresh VM when not given).
func sampleManifest(vm: UUID = UUID(), name: String = "web1", kind: RecoveryPointManifest.SyncKind = .full)
    -> RecoveryPointManifest
{
    RecoveryPointManifest(
        pointID: .generate(), vmUUID: vm, vmName: name, createdAt: Date(),
        domainXML: "<domain type='qemu'><name>\(name)</name></domain>", consistency: .crashConsistent,
        syncKind: kind, checkpointName: "bulwark-1", labels: ["group": "tier1"])
}

/// Stores `image` as disk `vda` of a new point and returns the point.
@discardableResult
func storePoint(_ image: [UInt8], in store: Datastore, vm: UUID = UUID()) throws -> RecoveryPointRef {
    let manifest = sampleManifest(vm: vm)
    try store.writeRecoveryPoint(manifest: manifest, indexes: ["vda": storeDisk(image, in: store)])
    return RecoveryPointRef(vm: vm, point: manifest.pointID)
}

/// Restores disk `target` of `point` into memory.
func restore(_ point: RecoveryPointRef, disk target: String = "vda", from store: Datastore) throws -> [UInt8] {
    var bytes: [UInt8] = []
    try store.readDisk(point, disk: target) { offset, chunk in
        precondition(offset == UInt64(bytes.count))
        bytes += chunk
    }
    return bytes
}

/// The path of a chunk's file, as the datastore lays it out.
func chunkFile(_ digest: ChunkDigest, in store: Datastore) -> String {
    let hex = digest.description
    return "\(store.root)/.chunks/\(hex.prefix(4))/\(hex)"
}

/// Sets a file's modification time, as if it had been written at `date`.
func age(_ path: String, to date: Date) throws {
    try FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: path)
}

func fileBytes(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// The error a call throws, for checking its code and message.
func datastoreError(_ body: () throws -> Void) -> DatastoreError? {
    do {
        try body()
        return nil
    } catch let error as DatastoreError {
        return error
    } catch {
        return nil
    }
}
