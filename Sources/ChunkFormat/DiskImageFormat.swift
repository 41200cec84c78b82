import Foundation

/// What the first bytes of a disk image say about it: qcow2 (and which version) or not qcow2.
///
/// Incremental syncs need persistent dirty bitmaps, which only qcow2 version 3 (`compat=1.1`) can hold; a raw disk
/// (or an old qcow2) can still be protected, by consistency-check syncs that read the whole disk.
public enum DiskImageFormat: Sendable, Hashable, CustomStringConvertible {
    /// A qcow2 image; `corrupt` is the header's "corrupt" incompatible-feature bit (v3 only).
    case qcow2(version: UInt32, virtualSize: UInt64, corrupt: Bool)
    /// Anything without the qcow2 magic: raw, or a format Bulwark does not read; `size` is the file's length.
    case notQcow2(size: UInt64)

    /// Whether QEMU can keep persistent dirty bitmaps in this image.
    public var supportsBitmaps: Bool {
        if case .qcow2(let version, _, _) = self { version >= 3 } else { false }
    }

    /// The size the guest sees: the qcow2 virtual size, or the file's length.
    public var virtualSize: UInt64 {
        switch self {
        case .qcow2(_, let size, _), .notQcow2(let size): size
        }
    }

    public var description: String {
        switch self {
        case .qcow2(let version, _, let corrupt): "qcow2 v\(version)\(corrupt ? " (marked corrupt)" : "")"
        case .notQcow2: "not qcow2"
        }
    }

    package static let magic: [UInt8] = [0x51, 0x46, 0x49, 0xFB]  // "QFI\xfb"
    package static let headerLength = 80

    /// Reads the header of the image at `path` (a file or a block device). Blocking: call it off the cooperative pool.
    public static func read(path: String) throws(DiskImageError) -> DiskImageFormat {
        let (header, size) = try readHeader(path: path)
        return parse(header: header, fileSize: size)
    }

    /// The first bytes of the image at `path` (up to the qcow2 v3 header's length) and its size. Blocking.
    public static func readHeader(path: String, followingLinks: Bool = true) throws(DiskImageError) -> (header: [UInt8], size: UInt64) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | (followingLinks ? 0 : O_NOFOLLOW))
        guard descriptor >= 0 else { throw DiskImageError(path: path, errno: errno) }
        defer { close(descriptor) }
        return try readHeader(descriptor: descriptor, path: path)
    }

    /// ``readHeader(path:followingLinks:)`` of an image already open (a ``PinnedFile``); `path` names it in errors.
    public static func readHeader(descriptor: Int32, path: String) throws(DiskImageError) -> (header: [UInt8], size: UInt64) {
        var header = [UInt8](repeating: 0, count: headerLength)
        var filled = 0
        while filled < header.count {
            let count = header.withUnsafeMutableBytes {
                pread(descriptor, $0.baseAddress! + filled, headerLength - filled, off_t(filled))
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw DiskImageError(path: path, errno: errno)
            }
            if count == 0 { break }
            filled += count
        }
        // lseek, not fstat: a block device's st_size is 0.
        let end = lseek(descriptor, 0, SEEK_END)
        guard end >= 0 else { throw DiskImageError(path: path, errno: errno) }
        return (Array(header[..<filled]), UInt64(end))
    }

    /// What a qcow2 header makes QEMU open besides the image itself, or nil: a backing file (bytes 8–15 give its
    /// name's offset) or an external data file (incompatible feature bit 2). Either names any file on the machine
    /// that reads the image, so an image with one is never read by bulwarkd.
    public static func externalReference(header: some Collection<UInt8>) -> String? {
        let bytes = Array(header)
        guard bytes.count >= 32, Array(bytes[0..<4]) == magic else { return nil }
        let backing = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if backing != 0 { return "a backing file" }
        let version = bytes[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        if version >= 3, bytes.count >= 80, bytes[72..<80].reduce(UInt64(0), { $0 << 8 | UInt64($1) }) & 0b100 != 0 {
            return "an external data file"
        }
        return nil
    }

    /// Interprets the first bytes of an image (big-endian fields, as the qcow2 specification lays them out).
    public static func parse(header: some Collection<UInt8>, fileSize: UInt64) -> DiskImageFormat {
        let bytes = Array(header)
        guard bytes.count >= 32, Array(bytes[0..<4]) == magic else { return .notQcow2(size: fileSize) }
        func integer<T: FixedWidthInteger>(_ offset: Int, as type: T.Type) -> T {
            bytes[offset..<offset + MemoryLayout<T>.size].reduce(T(0)) { $0 << 8 | T($1) }
        }
        let version = integer(4, as: UInt32.self)
        let size = integer(24, as: UInt64.self)
        // Version 3 adds feature bits at offset 72; bit 1 of the incompatible ones marks a corrupt image.
        let corrupt = version >= 3 && bytes.count >= 80 && integer(72, as: UInt64.self) & 0b10 != 0
        return .qcow2(version: version, virtualSize: size, corrupt: corrupt)
    }
}

/// A disk image that could not be read, naming the file and the system's reason.
public struct DiskImageError: Error, Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var errno: Int32

    public init(path: String, errno: Int32) {
        self.path = path
        self.errno = errno
    }

    public var reason: String { String(cString: strerror(errno)) }

    public var description: String {
        "cannot read \(path): \(reason)" + (errno == EACCES ? " (run bulwark-agent as root)" : "")
    }
}
