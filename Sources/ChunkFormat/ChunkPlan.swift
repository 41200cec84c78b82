/// What a sync does with each chunk of a disk: the decision that makes an incremental read only what changed.
///
/// Pure: it sees ranges, not a disk, so every edge (a dirty range across a chunk boundary, a short last chunk,
/// a dirty range over a hole) is tested without QEMU.
public struct ChunkPlan: Sendable, Hashable {
    /// One chunk's fate.
    public enum Action: Sendable, Hashable {
        /// Nothing in the chunk reads as data: record the datastore's zero digest, read nothing.
        case zero
        /// The chunk did not change since the base point: record the base index's digest, read nothing.
        case carry(ChunkDigest)
        /// Read, hash and (when the datastore lacks it) send the chunk.
        case read
    }

    public let chunkSize: Int
    public let diskSize: UInt64
    public let actions: [Action]

    /// Sorts and joins touching or overlapping ranges.
    public static func merged(_ ranges: [Range<UInt64>]) -> [Range<UInt64>] {
        var result: [Range<UInt64>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where !range.isEmpty {
            if let last = result.last, last.upperBound >= range.lowerBound {
                result[result.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                result.append(range)
            }
        }
        return result
    }

    /// Plans a disk of `diskSize` bytes cut into `chunkSize` chunks.
    ///
    /// - Parameters:
    ///   - data: ranges that may hold data (allocated and not known to read as zeros), sorted, non-overlapping.
    ///   - dirty: for an incremental sync, the ranges the checkpoint's bitmap marks as written since the base point;
    ///     nil reads every chunk with data (full sync or consistency check).
    ///   - base: the base point's index of this disk; required (same chunk size and disk size) when `dirty` is given.
    ///   - zeroDigest: the datastore's digest of a full chunk of zeros.
    public init(
        diskSize: UInt64, chunkSize: Int, data: [Range<UInt64>], dirty: [Range<UInt64>]?, base: FixedIndex?,
        zeroDigest: ChunkDigest
    ) {
        precondition(chunkSize > 0)
        precondition(dirty == nil || (base?.chunkCount == FixedIndex.chunkCount(logicalSize: diskSize, chunkSize: chunkSize)),
                     "an incremental plan needs a base index of the same shape")
        self.chunkSize = chunkSize
        self.diskSize = diskSize
        let count = FixedIndex.chunkCount(logicalSize: diskSize, chunkSize: chunkSize)
        var actions: [Action] = []
        actions.reserveCapacity(count)
        var dataCursor = RangeCursor(data)
        var dirtyCursor = dirty.map { RangeCursor($0) }
        for index in 0..<count {
            let start = UInt64(index) * UInt64(chunkSize)
            let end = min(diskSize, start + UInt64(chunkSize))
            let isFull = end - start == UInt64(chunkSize)
            if var cursor = dirtyCursor, let base {
                let changed = cursor.overlaps(start..<end)
                dirtyCursor = cursor
                if !changed {
                    _ = dataCursor.overlaps(start..<end)
                    actions.append(.carry(base[index]))
                    continue
                }
            }
            // A short last chunk of zeros is not the well-known zero chunk: read it like any other.
            if !dataCursor.overlaps(start..<end), isFull {
                actions.append(.zero)
            } else {
                actions.append(.read)
            }
        }
        self.actions = actions
    }

    /// The byte range of chunk `index`.
    public func range(ofChunk index: Int) -> Range<UInt64> {
        let start = UInt64(index) * UInt64(chunkSize)
        return start..<min(diskSize, start + UInt64(chunkSize))
    }

    /// How many chunks the sync reads, and how many bytes that is.
    public var readCount: Int { actions.count { $0 == .read } }
    public var bytesToRead: UInt64 {
        actions.indices.reduce(0) { sum, index in
            actions[index] == .read ? sum + UInt64(range(ofChunk: index).count) : sum
        }
    }
}

/// Walks sorted, non-overlapping ranges forward, answering "does anything overlap this window?" for windows that
/// only move forward.
package struct RangeCursor {
    private let ranges: [Range<UInt64>]
    private var position = 0

    package init(_ ranges: [Range<UInt64>]) { self.ranges = ranges }

    package mutating func overlaps(_ window: Range<UInt64>) -> Bool {
        while position < ranges.count, ranges[position].upperBound <= window.lowerBound { position += 1 }
        var probe = position
        while probe < ranges.count, ranges[probe].lowerBound < window.upperBound {
            if ranges[probe].overlaps(window) { return true }
            probe += 1
        }
        return false
    }
}
