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

enum PartitionTable {
    static let sector: UInt64 = 512

    static func volumes(of disk: any GuestDisk) throws -> [GuestVolume] {
        guard disk.size >= 2 * sector else { return [] }
        let first = try disk.read(offset: 0, length: Int(sector))
        var parts: [(number: Int, start: UInt64, count: UInt64)] = []
        if first[510] == 0x55, first[511] == 0xaa {
            let entries = (0..<4).map { index -> (type: UInt8, start: UInt64, count: UInt64) in
                let base = 446 + index * 16
                return (first[base + 4], UInt64(le32(first, base + 8)), UInt64(le32(first, base + 12)))
            }
            if entries.contains(where: { $0.type == 0xee }) {
                parts = try gpt(disk)
            } else {
                for (index, entry) in entries.enumerated() where entry.type != 0 && entry.count > 0 {
                    if [0x05, 0x0f, 0x85].contains(entry.type) {
                        parts += try logical(disk, extended: entry.start)
                    } else {
                        parts.append((index + 1, entry.start, entry.count))
                    }
                }
            }
        }
        if parts.isEmpty {
            return [try probe(disk, name: disk.target, offset: 0, size: disk.size)]
        }
        return try parts.sorted { $0.number < $1.number }.compactMap { part in
            let offset = part.start * sector
            guard offset < disk.size else { return nil }
            return try probe(disk, name: "\(disk.target)\(part.number)", offset: offset, size: min(part.count * sector, disk.size - offset))
        }
    }

    private static func gpt(_ disk: any GuestDisk) throws -> [(Int, UInt64, UInt64)] {
        let header = try disk.read(offset: sector, length: Int(sector))
        guard Array(header[0..<8]) == Array("EFI PART".utf8) else {
            throw GuestFilesError(.corrupt, "disk \(disk.target) has a protective MBR but no GPT header")
        }
        let entriesLBA = le64(header, 72)
        let count = Int(min(le32(header, 80), 1024))
        let entrySize = Int(le32(header, 84))
        guard (128...4096).contains(entrySize), entriesLBA * sector < disk.size else {
            throw GuestFilesError(.corrupt, "disk \(disk.target) has a GPT header with impossible entries")
        }
        let bytes = try disk.read(offset: entriesLBA * sector, length: min(count * entrySize, Int(disk.size - entriesLBA * sector)))
        var parts: [(Int, UInt64, UInt64)] = []
        for index in 0..<(bytes.count / entrySize) {
            let base = index * entrySize
            guard bytes[base..<base + 16].contains(where: { $0 != 0 }) else { continue }
            let first = le64(bytes, base + 32)
            let last = le64(bytes, base + 40)
            guard last >= first else { continue }
            parts.append((index + 1, first, last - first + 1))
        }
        return parts
    }

    /// The logical partitions of an extended partition, numbered from 5, following its chain of EBRs.
    private static func logical(_ disk: any GuestDisk, extended: UInt64) throws -> [(Int, UInt64, UInt64)] {
        var parts: [(Int, UInt64, UInt64)] = []
        var next: UInt64 = 0
        var seen = Set<UInt64>()
        while parts.count < 128, seen.insert(next).inserted {
            let at = (extended + next) * sector
            guard at + sector <= disk.size else { break }
            let ebr = try disk.read(offset: at, length: Int(sector))
            guard ebr[510] == 0x55, ebr[511] == 0xaa else { break }
            let start = UInt64(le32(ebr, 446 + 8))
            let count = UInt64(le32(ebr, 446 + 12))
            if count > 0 { parts.append((5 + parts.count, extended + next + start, count)) }
            let link = UInt64(le32(ebr, 462 + 8))
            guard link != 0 else { break }
            next = link
        }
        return parts
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
