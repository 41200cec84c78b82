internal import CDeflate

/// CRC-32 (IEEE 802.3, the zlib/PNG polynomial) of a chunk's stored bytes, computed by libdeflate.
///
/// libdeflate folds with carry-less multiplication (PCLMULQDQ) where the CPU has it: every byte of a backup and of
/// a restore is checked, and zlib's table-driven CRC cost about half as much CPU as the SHA-256 beside it.
package enum CRC32 {
    /// The CRC-32 of `bytes`.
    package static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return 0 }
        return libdeflate_crc32(0, base, bytes.count)
    }
}

extension CRC32 {
    /// The CRC-32 of `bytes`.
    package static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }
}
