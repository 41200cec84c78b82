extension PartitionTable {
    /// One of the four entries of an MBR (or the two an EBR uses), in sectors.
    struct MBREntry {
        var type: UInt8
        var start: UInt64
        var count: UInt64
    }

    /// The most logical partitions followed: Linux numbers far fewer, and a longer chain is damage or a trap.
    static let logicalLimit = 128

    static func mbrEntries(_ bytes: [UInt8]) -> [MBREntry] {
        (0..<4).map { index in
            let base = 446 + index * 16
            return MBREntry(type: bytes[base + 4], start: UInt64(le32(bytes, base + 8)), count: UInt64(le32(bytes, base + 12)))
        }
    }

    static func isExtended(_ type: UInt8) -> Bool { [0x05, 0x0f, 0x85].contains(type) }

    /// The primary partitions of an MBR, numbered 1 to 4, and the logical ones of its extended partition.
    static func mbr(_ disk: any GuestDisk, _ entries: [MBREntry]) throws -> [Partition] {
        let used = entries.enumerated().filter { $0.element.type != 0 && $0.element.count > 0 }
        let extended = used.filter { isExtended($0.element.type) }
        guard extended.count <= 1 else {
            throw GuestFilesError(
                .corrupt,
                "disk \(disk.target)'s MBR has \(extended.count) extended partitions (\(extended.map { "\($0.offset + 1)" }.joined(separator: ", "))), where a table has at most one; it is damaged")
        }
        var parts: [Partition] = []
        for (index, entry) in used {
            if isExtended(entry.type) {
                parts += try logical(disk, extended: entry, number: index + 1)
            } else {
                parts.append(Partition(number: index + 1, start: entry.start, count: entry.count))
            }
        }
        return parts
    }

    /// The logical partitions of extended partition `number`, numbered from 5, following its chain of EBRs.
    ///
    /// Each EBR must lie inside the extended partition, each logical partition too, and the chain must not come
    /// back to an EBR it has read: anything else is an error, since the chain cannot be trusted past it.
    static func logical(_ disk: any GuestDisk, extended: MBREntry, number: Int) throws -> [Partition] {
        let limit = try end(extended.start, extended.count, disk, "extended partition \(number)")
        guard limit <= sectors(disk) else {
            throw GuestFilesError(
                .corrupt,
                "disk \(disk.target): extended partition \(number) (start sector \(extended.start), \(extended.count) sectors) ends beyond the disk's \(sectors(disk)) sectors; its partition table is damaged")
        }
        let inside = "extended partition \(number) (sectors \(extended.start)-\(limit - 1))"
        var parts: [Partition] = []
        // EBR links count from the extended partition's first sector; a logical partition's start from its EBR's.
        var next: UInt64 = 0
        var seen = Set<UInt64>()
        while true {
            let at = try end(extended.start, next, disk, "an EBR link of extended partition \(number)")
            guard seen.insert(at).inserted else {
                throw GuestFilesError(.corrupt, "disk \(disk.target): the EBR chain of \(inside) comes back to the EBR at sector \(at); its partition table is damaged")
            }
            guard seen.count <= logicalLimit else {
                throw GuestFilesError(.corrupt, "disk \(disk.target): the EBR chain of \(inside) is longer than \(logicalLimit) EBRs; its partition table is damaged")
            }
            guard at < limit else {
                throw GuestFilesError(.corrupt, "disk \(disk.target): an EBR link of \(inside) points at sector \(at), outside it; its partition table is damaged")
            }
            let ebr = try read(disk, sector: at, count: 1, what: "the EBR at sector \(at)")
            guard ebr[510] == 0x55, ebr[511] == 0xaa else {
                // An extended partition made but never given a logical one has no EBR yet.
                if next == 0 { break }
                throw GuestFilesError(.corrupt, "disk \(disk.target): the EBR at sector \(at) in \(inside) has no boot signature; its partition table is damaged")
            }
            let entries = mbrEntries(ebr)
            if entries[0].count > 0 {
                let logicalNumber = 5 + parts.count
                let start = try end(at, entries[0].start, disk, "logical partition \(logicalNumber)'s start")
                let stop = try end(start, entries[0].count, disk, "logical partition \(logicalNumber)")
                guard start > at, stop <= limit else {
                    throw GuestFilesError(
                        .corrupt,
                        "disk \(disk.target): logical partition \(logicalNumber) (start sector \(start), \(entries[0].count) sectors) lies outside \(inside) after its EBR at sector \(at); its partition table is damaged")
                }
                parts.append(Partition(number: logicalNumber, start: start, count: entries[0].count))
            }
            guard entries[1].start != 0 else { break }
            next = entries[1].start
        }
        return parts
    }
}
