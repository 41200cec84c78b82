/// A guest disk whose bytes are held in memory: the disk of the fuzz targets and of tests that craft partition
/// tables byte by byte.
///
/// A read outside the disk stops the process: ``GuestDisk`` callers must bound every offset by ``size`` first, so
/// such a read is a missing bounds check that a fuzz run or test should report as loudly as it can.
package struct MemoryDisk: GuestDisk {
    package let target: String
    package let bytes: [UInt8]
    package var size: UInt64 { UInt64(bytes.count) }

    package init(target: String, bytes: [UInt8]) {
        self.target = target
        self.bytes = bytes
    }

    package func read(offset: UInt64, length: Int) throws -> [UInt8] {
        precondition(
            length >= 0 && offset <= size && UInt64(length) <= size - offset,
            "a read of \(length) bytes at \(offset) of disk \(target) (\(size) bytes) goes outside it")
        return Array(bytes[Int(offset)..<Int(offset) + length])
    }
}
