import BulwarkAgent
import BulwarkStore
import Testing

/// The planner decides what an incremental reads: every edge is a range question, tested without QEMU.
@Suite struct ChunkPlanTests {
    let chunk = 1 << 20
    let zero = ChunkDigest.zero(chunkSize: 1 << 20)
    let mib: UInt64 = 1 << 20

    func base(_ count: Int, size: UInt64? = nil) throws -> FixedIndex {
        let digests = (0..<count).map { ChunkDigest.of([UInt8(truncatingIfNeeded: $0), 1, 2, 3]) }
        return try FixedIndex(chunkSize: chunk, logicalSize: size ?? UInt64(count) * mib, digests: digests)
    }

    @Test func fullSyncReadsChunksWithDataAndRecordsHolesAsZero() {
        let plan = ChunkPlan(
            diskSize: 4 * mib, chunkSize: chunk, data: [mib..<(mib + 10), (3 * mib - 1)..<(3 * mib + 1)], dirty: nil,
            base: nil, zeroDigest: zero)
        #expect(plan.actions == [.zero, .read, .read, .read])
        #expect(plan.bytesToRead == 3 * mib)
    }

    @Test func incrementalReadsOnlyDirtyChunksAndCarriesTheRest() throws {
        let base = try base(4)
        let plan = ChunkPlan(
            diskSize: 4 * mib, chunkSize: chunk, data: [0..<(4 * mib)], dirty: [(2 * mib + 5)..<(2 * mib + 6)],
            base: base, zeroDigest: zero)
        #expect(plan.actions == [.carry(base[0]), .carry(base[1]), .read, .carry(base[3])])
        #expect(plan.readCount == 1)
    }

    @Test func dirtyRangeAcrossABoundaryReadsBothChunks() throws {
        let base = try base(3)
        let plan = ChunkPlan(
            diskSize: 3 * mib, chunkSize: chunk, data: [0..<(3 * mib)], dirty: [(mib - 1)..<(mib + 1)], base: base,
            zeroDigest: zero)
        #expect(plan.actions == [.read, .read, .carry(base[2])])
    }

    @Test func dirtyHoleBecomesTheZeroChunk() throws {
        // Discarded in the guest since the base: dirty, but reads as zeros.
        let base = try base(2)
        let plan = ChunkPlan(
            diskSize: 2 * mib, chunkSize: chunk, data: [], dirty: [0..<mib], base: base, zeroDigest: zero)
        #expect(plan.actions == [.zero, .carry(base[1])])
    }

    @Test func shortLastChunkOfZerosIsRead() {
        // Only a full chunk of zeros is the well-known zero chunk; a short one has its own digest.
        let plan = ChunkPlan(
            diskSize: 2 * mib + 4096, chunkSize: chunk, data: [], dirty: nil, base: nil, zeroDigest: zero)
        #expect(plan.actions == [.zero, .zero, .read])
        #expect(plan.range(ofChunk: 2) == (2 * mib)..<(2 * mib + 4096))
        #expect(plan.bytesToRead == 4096)
    }

    @Test func nothingDirtyReadsNothing() throws {
        let base = try base(8)
        let plan = ChunkPlan(
            diskSize: 8 * mib, chunkSize: chunk, data: [0..<(8 * mib)], dirty: [], base: base, zeroDigest: zero)
        #expect(plan.readCount == 0)
        #expect(plan.actions == (0..<8).map { .carry(base[$0]) })
    }

    @Test func manyRangesInOneChunkAndGapsBetween() throws {
        let base = try base(4)
        let dirty: [Range<UInt64>] = [10..<20, 30..<40, (3 * mib)..<(3 * mib + 1)]
        let plan = ChunkPlan(
            diskSize: 4 * mib, chunkSize: chunk, data: [0..<(4 * mib)], dirty: dirty, base: base, zeroDigest: zero)
        #expect(plan.actions == [.read, .carry(base[1]), .carry(base[2]), .read])
    }
}
