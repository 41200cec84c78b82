import BulwarkStore
import Foundation
import Synchronization
import Testing

@Suite struct ConcurrencyTests {
    /// Runs `body(worker)` on `count` threads of their own at once (not the cooperative pool, whose width is the
    /// core count) and rethrows the first failure.
    static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws {
        let failures = Mutex<[String]>([])
        let group = DispatchGroup()
        let start = DispatchSemaphore(value: 0)
        for worker in 0..<count {
            group.enter()
            let thread = Thread {
                start.wait()
                do {
                    try body(worker)
                } catch {
                    failures.withLock { $0.append("worker \(worker): \(error)") }
                }
                group.leave()
            }
            thread.start()
        }
        for _ in 0..<count { start.signal() }
        group.wait()
        let all = failures.withLock { $0 }
        if !all.isEmpty { throw DatastoreError(.io, all.joined(separator: "; ")) }
    }

    @Test func manyWritersOfTheSameChunksEndWithOneValidCopyEach() throws {
        try withDatastore { store, _ in
            let chunks = (0..<24).map { $0 % 3 == 0 ? compressibleBytes(smallChunk, seed: $0) : randomBytes(smallChunk) }
            let newWrites = Mutex(0)
            try Self.onThreads(8) { worker in
                // Each worker writes every chunk, in its own order, so that writers collide on each one.
                var order = Array(chunks.indices)
                order.shuffle()
                for chunk in order {
                    let result = try store.writeChunk(chunks[chunk])
                    guard result.digest == ChunkDigest.of(chunks[chunk]) else {
                        throw DatastoreError(.digestMismatch, "worker \(worker) got a wrong digest")
                    }
                    if result.isNew { newWrites.withLock { $0 += 1 } }
                    // A reader racing the writers of another chunk sees it missing or whole, never partial.
                    do {
                        _ = try store.readChunk(ChunkDigest.of(chunks[(chunk + worker) % chunks.count]))
                    } catch let error as DatastoreError where error.code == .chunkMissing {}
                }
            }
            #expect(newWrites.withLock { $0 } >= chunks.count)
            for chunk in chunks { #expect(try store.readChunk(ChunkDigest.of(chunk)) == chunk) }
            let statistics = try store.statistics()
            #expect(statistics.chunkCount == chunks.count)
            // No temporary file of any writer is left behind.
            let enumerator = FileManager.default.enumerator(atPath: store.root + "/.chunks")
            let leftovers = (enumerator?.allObjects as? [String] ?? []).filter { $0.contains(".tmp-") }
            #expect(leftovers.isEmpty)
        }
    }

    @Test func concurrentSyncsAndCollectionNeverLoseAReferencedChunk() throws {
        try withDatastore { store, _ in
            let shared = (0..<6).map { _ in randomBytes(smallChunk) }
            let written = Mutex<[RecoveryPointRef: [UInt8]]>([:])
            let future = Date().addingTimeInterval(86400)
            try Self.onThreads(6) { worker in
                for round in 0..<4 {
                    if worker == 0 {
                        // A collector that treats everything unreferenced as old: only references keep chunks. It
                        // breaks the rule that the grace period outlasts a sync, so uploads may fail (below); what
                        // must hold is that every point that was committed restores.
                        _ = try store.collectGarbage(gracePeriod: .seconds(60), now: future)
                        continue
                    }
                    let image = shared[(worker + round) % shared.count] + randomBytes(smallChunk / 2)
                    do {
                        let point = try storePoint(image, in: store)
                        written.withLock { $0[point] = image }
                    } catch let error as DatastoreError where error.code == .chunkMissing {
                        // The collector swept an unreferenced chunk between upload and commit: the commit says
                        // so instead of writing a point that cannot be restored. A real sync retries.
                        continue
                    } catch let error as DatastoreError
                        where error.code == .io && (error.cause as? POSIXError)?.code == .ENOENT
                    {
                        // The collector took a chunk writer's temporary file before its rename.
                        continue
                    }
                }
            }
            let points = written.withLock { $0 }
            #expect(!points.isEmpty)
            for (point, image) in points { #expect(try restore(point, from: store) == image) }
            #expect(try store.verify().isClean)
        }
    }
}
