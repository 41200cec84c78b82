/// The file systems a disk holds: its MBR or GPT partitions (logical partitions of an extended one included), or
/// the whole disk when it has no partition table. Read by hand: the two formats are small and fixed, and the
/// libraries that read them (libfdisk, libblkid) want a device or file descriptor, which a recovery point is not.
public struct GuestVolume: Sendable, Hashable {
    /// `vda` for a whole disk, `vda1` for its first partition: the first part of every path under it.
    public var name: String
    /// The disk it is on (`vda`).
    public var disk: String
    public var offset: UInt64
    public var size: UInt64
    /// `ext4`, `ext3`, `ext2`, `xfs`, `ntfs`, `vfat`, `swap`, `lvm2`, or `unknown`.
    public var type: String
    public var label: String?

    /// Whether Bulwark can list and extract its files: ext2/3/4 itself, others where libguestfs found them.
    public var isReadable: Bool { type.hasPrefix("ext") || throughLibguestfs }
    /// Found by libguestfs, which mounts it in its appliance.
    var throughLibguestfs = false
}

/// Reads a disk's MBR or GPT. Every number in a table is the guest's to choose, so each is bounded by the disk's
/// size before it is used, and byte offsets are computed with overflow-checked arithmetic: a hostile table is a
/// ``GuestFilesError`` naming the disk and the field, never a trap and never a read outside the disk.
enum PartitionTable {
    static let sector: UInt64 = 512

    /// A partition as its table gives it, in 512-byte sectors.
    struct Partition: Equatable {
        var number: Int
        var start: UInt64
        var count: UInt64
    }

    static func volumes(of disk: any GuestDisk) throws -> [GuestVolume] {
        guard disk.size >= 2 * sector else { return [] }
        let first = try read(disk, sector: 0, count: 1, what: "its MBR")
        var parts: [Partition] = []
        if first[510] == 0x55, first[511] == 0xaa {
            let entries = mbrEntries(first)
            parts = entries.contains { $0.type == 0xee } ? try gpt(disk) : try mbr(disk, entries)
        }
        if parts.isEmpty {
            return [try probe(disk, name: disk.target, offset: 0, size: disk.size)]
        }
        try checkWithinDisk(parts, disk)
        return try parts.sorted { $0.number < $1.number }.map { part in
            try probe(
                disk, name: "\(disk.target)\(part.number)", offset: try bytes(part.start, disk, "partition \(part.number)'s start"),
                size: try bytes(part.count, disk, "partition \(part.number)'s length"))
        }
    }

    /// The number of whole sectors on `disk`: every sector number a table gives must be below it.
    static func sectors(_ disk: any GuestDisk) -> UInt64 { disk.size / sector }

    /// `count` sectors in bytes, or an error naming `what` when that does not fit in 64 bits.
    static func bytes(_ count: UInt64, _ disk: any GuestDisk, _ what: @autoclosure () -> String) throws(GuestFilesError) -> UInt64 {
        let (product, overflow) = count.multipliedReportingOverflow(by: sector)
        guard !overflow else {
            throw GuestFilesError(.corrupt, "disk \(disk.target): \(what()) of \(count) sectors is more than any disk holds; its partition table is damaged")
        }
        return product
    }

    /// `start + count` (the sector after a run), or an error naming `what` when it does not fit in 64 bits.
    static func end(_ start: UInt64, _ count: UInt64, _ disk: any GuestDisk, _ what: @autoclosure () -> String) throws(GuestFilesError) -> UInt64 {
        let (sum, overflow) = start.addingReportingOverflow(count)
        guard !overflow else {
            throw GuestFilesError(.corrupt, "disk \(disk.target): \(what()) (sector \(start), \(count) sectors) ends past any disk's end; its partition table is damaged")
        }
        return sum
    }

    /// `count` sectors from sector `at`, checked to lie within the disk and to be as long as asked: a disk that
    /// answers short is an error here, not an index out of range later.
    static func read(_ disk: any GuestDisk, sector at: UInt64, count: UInt64, what: @autoclosure () -> String) throws -> [UInt8] {
        let stop = try end(at, count, disk, what())
        guard stop <= sectors(disk) else {
            throw GuestFilesError(.corrupt, "disk \(disk.target): \(what()) at sector \(at) (\(count) sectors) lies beyond the disk's \(sectors(disk)) sectors; its partition table is damaged")
        }
        let length = try bytes(count, disk, what())
        guard length <= 1 << 20 else {
            throw GuestFilesError(.corrupt, "disk \(disk.target): \(what()) is \(length) bytes long, more than a partition table needs; it is damaged")
        }
        let bytes = try disk.read(offset: try self.bytes(at, disk, what()), length: Int(length))
        guard bytes.count == Int(length) else {
            throw GuestFilesError(.corrupt, "disk \(disk.target): reading \(what()) at sector \(at) gave \(bytes.count) of \(length) bytes")
        }
        return bytes
    }

    /// Every partition ends within the disk, and no two share a sector: a table that says otherwise was not
    /// written by a partitioning tool, and reading through it would show one file system's bytes as another's.
    static func checkWithinDisk(_ parts: [Partition], _ disk: any GuestDisk) throws(GuestFilesError) {
        let total = sectors(disk)
        var previous: Partition?
        for part in parts.sorted(by: { ($0.start, $0.number) < ($1.start, $1.number) }) {
            let stop = try end(part.start, part.count, disk, "partition \(part.number)")
            guard stop <= total else {
                throw GuestFilesError(
                    .corrupt,
                    "disk \(disk.target): partition \(part.number) (start sector \(part.start), \(part.count) sectors) ends beyond the disk's \(total) sectors; its partition table is damaged")
            }
            if let previous, previous.start + previous.count > part.start {
                throw GuestFilesError(
                    .corrupt,
                    "disk \(disk.target): partitions \(previous.number) and \(part.number) overlap (partition \(part.number) starts at sector \(part.start), inside partition \(previous.number)); its partition table is damaged")
            }
            previous = part
        }
    }

    /// What the volume holds, by its superblock's magic numbers.
    static func probe(_ disk: any GuestDisk, name: String, offset: UInt64, size: UInt64) throws -> GuestVolume {
        var volume = GuestVolume(name: name, disk: disk.target, offset: offset, size: size, type: "unknown")
        guard size >= 8192 else { return volume }
        let head = try disk.read(offset: offset, length: 8192)
        if head[1024 + 56] == 0x53, head[1024 + 57] == 0xef {
            let compat = le32(head, 1024 + 92)
            let incompat = le32(head, 1024 + 96)
            // extents or flex_bg or 64bit mark ext4; a journal ext3.
            volume.type = incompat & (0x40 | 0x200 | 0x80) != 0 ? "ext4" : compat & 0x4 != 0 ? "ext3" : "ext2"
            let label = head[(1024 + 120)..<(1024 + 136)].prefix { $0 != 0 }
            volume.label = label.isEmpty ? nil : String(decoding: label, as: UTF8.self)
        } else if Array(head[0..<4]) == Array("XFSB".utf8) {
            volume.type = "xfs"
        } else if Array(head[3..<11]) == Array("NTFS    ".utf8) {
            volume.type = "ntfs"
        } else if Array(head[512..<520]) == Array("LABELONE".utf8) {
            volume.type = "lvm2"
        } else if Array(head[4086..<4096]) == Array("SWAPSPACE2".utf8) {
            volume.type = "swap"
        } else if head[510] == 0x55, head[511] == 0xaa, Array(head[82..<87]) == Array("FAT32".utf8) || Array(head[54..<57]) == Array("FAT".utf8) {
            volume.type = "vfat"
        }
        return volume
    }

    static func le32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    static func le64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        UInt64(le32(bytes, at)) | UInt64(le32(bytes, at + 4)) << 32
    }
}
