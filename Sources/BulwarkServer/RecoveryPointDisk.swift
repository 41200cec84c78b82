import BulwarkStore
import GuestFiles
import NBDServer
import Synchronization

/// One disk of a recovery point as an NBD export, assembled on the fly: each read takes the chunks its range
/// covers from the datastore (checked against their digests as they are read), zero chunks are answered as
/// holes without a read, and block status says which runs are zeros.
struct RecoveryPointDisk: NBDExportSource, GuestDisk {
    let store: Datastore
    let index: FixedIndex
    let cache: ChunkCache
    /// For errors: `disk vda of point P of VM X`.
    let label: String
    /// The disk's target (`vda`): its export name, and the first part of its paths when browsed.
    let target: String

    /// The bytes of `[offset, offset + length)` in one buffer (zeros materialised), for item-level reading.
    func read(offset: UInt64, length: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        for piece in try read(offset: offset, length: length) as [NBDPiece] {
            switch piece {
            case .data(let data): bytes += data
            case .zeros(let count): bytes += repeatElement(0, count: count)
            }
        }
        return bytes
    }

    var size: UInt64 { index.logicalSize }

    func read(offset: UInt64, length: Int) throws -> [NBDPiece] {
        var pieces: [NBDPiece] = []
        var position = offset
        let end = offset + UInt64(length)
        let chunkSize = UInt64(index.chunkSize)
        while position < end {
            let chunk = Int(position / chunkSize)
            let range = index.range(ofChunk: chunk)
            let take = Int(min(end, range.upperBound) - position)
            let digest = index[chunk]
            if digest == store.zeroDigest {
                if case .zeros(let count)? = pieces.last {
                    pieces[pieces.count - 1] = .zeros(count + take)
                } else {
                    pieces.append(.zeros(take))
                }
            } else {
                let bytes = try cache.chunk(digest) { try store.readChunk(digest) }
                let start = Int(position - range.lowerBound)
                guard bytes.count >= start + take else {
                    throw DatastoreError(
                        .chunkCorrupt,
                        "chunk \(digest) of \(label) holds \(bytes.count) bytes where the disk needs \(start + take)",
                        digest: digest)
                }
                pieces.append(.data(Array(bytes[start..<start + take])))
            }
            position += UInt64(take)
        }
        return pieces
    }

    func extents(offset: UInt64, length: UInt64) throws -> [NBDExtent] {
        var extents: [NBDExtent] = []
        var position = offset
        let end = min(size, offset + length)
        let chunkSize = UInt64(index.chunkSize)
        while position < end {
            let chunk = Int(position / chunkSize)
            let run = min(end, index.range(ofChunk: chunk).upperBound) - position
            let isZero = index[chunk] == store.zeroDigest
            if let last = extents.last, last.isZero == isZero, last.length + run <= UInt64(UInt32.max) {
                extents[extents.count - 1].length += run
            } else {
                extents.append(NBDExtent(length: run, isZero: isZero))
            }
            position += run
        }
        return extents
    }
}

/// The chunks read last, decoded, shared by every connection of an export: clients read in pieces smaller than
/// a chunk (256 KiB against 4 MiB), and each chunk should be decompressed and checked once, not once a piece.
final class ChunkCache: Sendable {
    private let capacity: Int
    private let entries = Mutex<(chunks: [ChunkDigest: (bytes: [UInt8], used: UInt64)], tick: UInt64)>(([:], 0))

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// The chunk `digest`, from the cache or from `load`.
    func chunk(_ digest: ChunkDigest, load: () throws -> [UInt8]) throws -> [UInt8] {
        let cached: [UInt8]? = entries.withLock { state in
            guard let entry = state.chunks[digest] else { return nil }
            state.tick += 1
            state.chunks[digest] = (entry.bytes, state.tick)
            return entry.bytes
        }
        if let cached { return cached }
        let bytes = try load()
        entries.withLock { state in
            state.tick += 1
            state.chunks[digest] = (bytes, state.tick)
            while state.chunks.count > capacity,
                let oldest = state.chunks.min(by: { $0.value.used < $1.value.used })?.key
            {
                state.chunks.removeValue(forKey: oldest)
            }
        }
        return bytes
    }
}
