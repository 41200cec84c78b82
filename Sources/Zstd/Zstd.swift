internal import CZstd

/// One-shot zstd compression of whole buffers, the form datastore chunks use.
public enum Zstd {
    /// A zstd failure, with zstd's own error name.
    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { "zstd: \(message)" }
    }

    /// The zstd library version, such as `1.5.4`.
    public static var libraryVersion: String { String(cString: ZSTD_versionString()) }

    /// Compresses `input` at `level` (1 is fast, 19 is small).
    public static func compress(_ input: [UInt8], level: Int32 = 1) throws(Error) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { src in
                ZSTD_compress(out.baseAddress, out.count, src.baseAddress, src.count, level)
            }
        }
        if ZSTD_isError(written) != 0 { throw Error(message: String(cString: ZSTD_getErrorName(written))) }
        output.removeSubrange(written...)
        return output
    }

    /// Decompresses a frame that must expand to exactly `expectedLength` bytes.
    public static func decompress(_ input: [UInt8], expectedLength: Int) throws(Error) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: expectedLength)
        let written = output.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { src in
                ZSTD_decompress(out.baseAddress, out.count, src.baseAddress, src.count)
            }
        }
        if ZSTD_isError(written) != 0 { throw Error(message: String(cString: ZSTD_getErrorName(written))) }
        guard written == expectedLength else {
            throw Error(message: "frame expanded to \(written) bytes, expected \(expectedLength)")
        }
        return output
    }
}
