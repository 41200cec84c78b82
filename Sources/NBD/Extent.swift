/// A run of bytes with one status in one meta context, as NBD block status reports it.
public struct Extent: Hashable, Sendable, CustomStringConvertible {
    public var offset: UInt64
    public var length: UInt64
    /// Context-specific flags. For `base:allocation`: bit 0 hole, bit 1 reads as zero. For
    /// `qemu:dirty-bitmap:*`: bit 0 dirty.
    public var flags: UInt32

    public init(offset: UInt64, length: UInt64, flags: UInt32) {
        self.offset = offset
        self.length = length
        self.flags = flags
    }

    public var end: UInt64 { offset + length }
    public var range: Range<UInt64> { offset..<end }

    /// `base:allocation`: the range is not allocated.
    public var isHole: Bool { flags & 1 != 0 }
    /// `base:allocation`: the range reads as zeros.
    public var isZero: Bool { flags & 2 != 0 }
    /// `qemu:dirty-bitmap:*`: the range was written since the checkpoint.
    public var isDirty: Bool { flags & 1 != 0 }

    public var description: String { "[\(offset), +\(length)) flags \(flags)" }
}

/// Well-known NBD meta context names.
public enum MetaContext {
    /// Allocation status: holes and zeros.
    public static let baseAllocation = "base:allocation"

    /// QEMU's dirty bitmap export of the given name; libvirt names them `backup-<disk>` in incremental jobs.
    public static func dirtyBitmap(_ name: String) -> String { "qemu:dirty-bitmap:\(name)" }
}
