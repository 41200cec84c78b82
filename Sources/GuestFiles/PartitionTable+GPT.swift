extension PartitionTable {
    /// The most bytes of partition entries a GPT may have here: 128 entries of 128 bytes is what every tool writes,
    /// and a larger array only costs reads.
    static let gptEntriesLimit: UInt64 = 1 << 20

    /// The partitions of a GPT, from its primary header at sector 1 (the backup at the disk's end is not read).
    ///
    /// A header whose fields do not fit the disk is an error for the whole disk: nothing in it can be trusted to
    /// point at a file system. So is an entry outside the usable sectors the header gives, since the partitions
    /// around it would be shown as if the table were sound.
    static func gpt(_ disk: any GuestDisk) throws -> [Partition] {
        let header = try read(disk, sector: 1, count: 1, what: "its GPT header")
        guard Array(header[0..<8]) == Array("EFI PART".utf8) else {
            throw GuestFilesError(.corrupt, "disk \(disk.target) has a protective MBR but no GPT header")
        }
        let total = sectors(disk)
        func damaged(_ field: String, _ value: UInt64, _ why: String) -> GuestFilesError {
            GuestFilesError(.corrupt, "disk \(disk.target) has a GPT header whose \(field) (\(value)) \(why); its partition table is damaged")
        }
        let headerSize = UInt64(le32(header, 12))
        guard (92...sector).contains(headerSize) else { throw damaged("header size", headerSize, "is not between 92 and 512 bytes") }
        let own = le64(header, 24)
        guard own == 1 else { throw damaged("own LBA", own, "is not sector 1, where it was read") }
        let firstUsable = le64(header, 40)
        let lastUsable = le64(header, 48)
        guard firstUsable >= 2 else { throw damaged("first usable LBA", firstUsable, "overlaps the MBR or the GPT header") }
        guard lastUsable < total else { throw damaged("last usable LBA", lastUsable, "is beyond the disk's \(total) sectors") }
        guard firstUsable <= lastUsable else { throw damaged("first usable LBA", firstUsable, "is after the last usable LBA \(lastUsable)") }

        let entriesLBA = le64(header, 72)
        let count = UInt64(le32(header, 80))
        let entrySize = UInt64(le32(header, 84))
        guard entrySize >= 128, entrySize <= 4096, entrySize.nonzeroBitCount == 1 else {
            throw damaged("partition entry size", entrySize, "is not 128, 256, ... or 4096 bytes")
        }
        let (arrayBytes, overflow) = count.multipliedReportingOverflow(by: entrySize)
        guard !overflow, arrayBytes <= gptEntriesLimit else {
            throw damaged("partition entry count", count, "times the entry size \(entrySize) is more than the \(gptEntriesLimit) bytes of entries read here")
        }
        guard count > 0 else { return [] }
        let entrySectors = (arrayBytes + sector - 1) / sector
        guard entriesLBA >= 2 else { throw damaged("partition entries LBA", entriesLBA, "overlaps the MBR or the GPT header") }
        let (entriesEnd, past) = entriesLBA.addingReportingOverflow(entrySectors)
        guard !past, entriesEnd <= total else {
            throw damaged("partition entries LBA", entriesLBA, "with \(entrySectors) sectors of entries, lies beyond the disk's \(total) sectors")
        }
        guard entriesEnd <= firstUsable || entriesLBA > lastUsable else {
            throw damaged("partition entries LBA", entriesLBA, "puts the entries inside the usable sectors \(firstUsable)-\(lastUsable)")
        }

        let bytes = try read(disk, sector: entriesLBA, count: entrySectors, what: "its GPT partition entries")
        var parts: [Partition] = []
        for index in 0..<Int(count) {
            let base = index * Int(entrySize)
            // An entry whose type GUID is all zeros is unused, whatever the rest of it holds.
            guard bytes[base..<base + 16].contains(where: { $0 != 0 }) else { continue }
            let number = index + 1
            let first = le64(bytes, base + 32)
            let last = le64(bytes, base + 40)
            guard first <= last else {
                throw GuestFilesError(.corrupt, "disk \(disk.target): GPT partition \(number) ends (last LBA \(last)) before it starts (first LBA \(first)); its partition table is damaged")
            }
            guard first >= firstUsable, last <= lastUsable else {
                throw GuestFilesError(
                    .corrupt,
                    "disk \(disk.target): GPT partition \(number) (first LBA \(first), last LBA \(last)) lies outside the usable sectors \(firstUsable)-\(lastUsable) its header gives; its partition table is damaged")
            }
            parts.append(Partition(number: number, start: first, count: last - first + 1))
        }
        return parts
    }
}
