#if canImport(Glibc)
import Glibc
#endif

/// Frames of ``GuestReaderWire`` over a pair of descriptors (pipes), with blocking reads and writes: use it from a
/// thread of its own, never from the cooperative pool.
public struct GuestReaderChannel {
    public let input: Int32
    public let output: Int32

    public init(input: Int32, output: Int32) {
        self.input = input
        self.output = output
    }

    /// Writes one frame; false when the other side is gone.
    @discardableResult
    public func send(_ kind: GuestReaderWire.Kind, _ payload: [UInt8] = []) -> Bool {
        writeAll(GuestReaderWire.header(kind, length: payload.count)) && writeAll(payload)
    }

    private func writeAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let written = write(output, buffer.baseAddress! + done, buffer.count - done)
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { return false }
                done += written
            }
            return true
        }
    }

    /// The next frame, checked against its kind's limit; nil at the end of the input.
    public func receive() throws(GuestFilesError) -> (GuestReaderWire.Kind, [UInt8])? {
        guard let header = readExactly(GuestReaderWire.headerSize) else { return nil }
        let (kind, length) = try GuestReaderWire.parseHeader(header)
        guard let payload = readExactly(length) else { return nil }
        return (kind, payload)
    }

    /// `count` bytes; nil when the input ends first (the other side is gone, which its owner reports).
    private func readExactly(_ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { read(input, $0.baseAddress! + done, count - done) }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { return nil }
            done += got
        }
        return bytes
    }
}
