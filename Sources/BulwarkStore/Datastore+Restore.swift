public import Foundation

extension Datastore {
    /// Reads disk `target` of a recovery point in order, handing each chunk's bytes to `body` (the last one cut at
    /// the disk's size; zero chunks as zeros).
    ///
    /// Every chunk is checked (CRC-32 and SHA-256) as it is read; the first bad or missing one ends the read with
    /// its error, after `body` got every chunk before it.
    public func readDisk(
        _ point: RecoveryPointRef, disk target: String, _ body: (_ offset: UInt64, _ bytes: [UInt8]) throws -> Void
    ) throws {
        let index = try readIndex(point, disk: target)
        let zeros = [UInt8](repeating: 0, count: chunkSize)
        for chunk in 0..<index.chunkCount {
            let range = index.range(ofChunk: chunk)
            let length = Int(range.upperBound - range.lowerBound)
            let digest = index[chunk]
            var bytes = digest == zeroDigest ? zeros : try readChunk(digest)
            if bytes.count < length {
                throw DatastoreError(
                    .chunkCorrupt,
                    "chunk \(digest) of disk \(target) of point \(point) holds \(bytes.count) bytes where the disk "
                        + "needs \(length); the index names a short chunk in the middle of the disk",
                    digest: digest)
            }
            if bytes.count > length { bytes.removeSubrange(length...) }
            try body(range.lowerBound, bytes)
        }
    }

    /// Writes disk `target` of a recovery point to `handle` from its current position, as one stream of the
    /// disk's bytes. Returns the number of bytes written.
    @discardableResult
    public func restoreDisk(_ point: RecoveryPointRef, disk target: String, to handle: FileHandle) throws -> UInt64 {
        var written: UInt64 = 0
        try readDisk(point, disk: target) { _, bytes in
            try handle.write(contentsOf: bytes)
            written += UInt64(bytes.count)
        }
        return written
    }
}
