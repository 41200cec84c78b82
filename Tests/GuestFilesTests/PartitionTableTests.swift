import Foundation
import GuestFiles
import Testing

/// Partition tables crafted byte by byte, as a hostile guest could write them: each number the guest chooses is
/// checked against the disk, so every one of these is a clear error naming the disk and field, never a trap.
@Suite struct PartitionTableTests {
    /// One MBR or EBR entry, in sectors.
    struct Entry {
        var type: UInt8
        var start: UInt32
        var count: UInt32
    }

    /// A GPT header's fields, defaulting to what sfdisk writes on a 256-sector disk.
    struct Header {
        var size: UInt32 = 92
        var own: UInt64 = 1
        var firstUsable: UInt64 = 34
        var lastUsable: UInt64 = 222
        var entriesLBA: UInt64 = 2
        var count: UInt32 = 128
        var entrySize: UInt32 = 128
    }

    static func put32(_ bytes: inout [UInt8], _ at: Int, _ value: UInt32) {
        for index in 0..<4 { bytes[at + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }

    static func put64(_ bytes: inout [UInt8], _ at: Int, _ value: UInt64) {
        for index in 0..<8 { bytes[at + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }

    /// Writes an MBR (or EBR) with `entries` and its boot signature at `sector`.
    static func mbr(_ bytes: inout [UInt8], sector: Int = 0, _ entries: [Entry]) {
        let base = sector * 512
        for (index, entry) in entries.enumerated() {
            bytes[base + 446 + index * 16 + 4] = entry.type
            put32(&bytes, base + 446 + index * 16 + 8, entry.start)
            put32(&bytes, base + 446 + index * 16 + 12, entry.count)
        }
        bytes[base + 510] = 0x55
        bytes[base + 511] = 0xaa
    }

    /// A disk of `sectors` sectors with a protective MBR, `header` at sector 1 and `partitions` (first and last
    /// LBA) in its entries at sector 2 (or wherever the header's entries LBA says, when that is on the disk).
    static func gpt(_ partitions: [(UInt64, UInt64)], header: Header = Header(), sectors: Int = 256) -> MemoryDisk {
        var bytes = [UInt8](repeating: 0, count: sectors * 512)
        mbr(&bytes, [Entry(type: 0xee, start: 1, count: UInt32(sectors - 1))])
        bytes.replaceSubrange(512..<520, with: Array("EFI PART".utf8))
        put32(&bytes, 512 + 12, header.size)
        put64(&bytes, 512 + 24, header.own)
        put64(&bytes, 512 + 40, header.firstUsable)
        put64(&bytes, 512 + 48, header.lastUsable)
        put64(&bytes, 512 + 72, header.entriesLBA)
        put32(&bytes, 512 + 80, header.count)
        put32(&bytes, 512 + 84, header.entrySize)
        let entries = (2..<UInt64(sectors)).contains(header.entriesLBA) ? Int(header.entriesLBA) * 512 : 1024
        for (index, (first, last)) in partitions.enumerated() {
            let base = entries + index * 128
            bytes[base] = 0xaf  // any non-zero type GUID marks the entry used
            put64(&bytes, base + 32, first)
            put64(&bytes, base + 40, last)
        }
        return MemoryDisk(target: "vda", bytes: bytes)
    }

    /// A disk of `sectors` sectors with an MBR of `entries`, then `edit` applied (EBRs).
    static func dos(sectors: Int = 256, _ entries: [Entry], _ edit: (inout [UInt8]) -> Void = { _ in }) -> MemoryDisk {
        var bytes = [UInt8](repeating: 0, count: sectors * 512)
        mbr(&bytes, entries)
        edit(&bytes)
        return MemoryDisk(target: "vda", bytes: bytes)
    }

    /// The volumes a browser of `disk` finds, or the error it gives.
    static func browse(_ disk: MemoryDisk) -> Result<[GuestVolume], GuestFilesError> {
        do {
            return .success(try GuestBrowser(disks: [disk]).volumes())
        } catch let error as GuestFilesError {
            return .failure(error)
        } catch {
            Issue.record("not a GuestFilesError: \(error)")
            return .success([])
        }
    }

    /// Expects browsing `disk` to fail as corrupt, with a message naming the disk and holding `fragment`.
    static func expectCorrupt(_ disk: MemoryDisk, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        switch browse(disk) {
        case .success(let volumes):
            Issue.record("browsed as \(volumes.map { "\($0.name)@\($0.offset)+\($0.size)" })", sourceLocation: sourceLocation)
        case .failure(let error):
            #expect(error.code == .corrupt, sourceLocation: sourceLocation)
            #expect(error.message.contains("vda") && error.message.contains(fragment), "\(error.message)", sourceLocation: sourceLocation)
        }
    }

    @Test func soundTablesStillBrowse() throws {
        let gpt = try Self.browse(Self.gpt([(34, 97), (98, 222)])).get()
        #expect(gpt.map(\.name) == ["vda1", "vda2"])
        #expect(gpt.map(\.offset) == [34 * 512, 98 * 512] as [UInt64])
        #expect(gpt.map(\.size) == [64 * 512, 125 * 512] as [UInt64])
        let dos = try Self.browse(Self.dos([Entry(type: 0x83, start: 1, count: 31), Entry(type: 0x05, start: 32, count: 200)]) { bytes in
            Self.mbr(&bytes, sector: 32, [Entry(type: 0x83, start: 2, count: 40), Entry(type: 0x05, start: 48, count: 60)])
            Self.mbr(&bytes, sector: 80, [Entry(type: 0x83, start: 2, count: 58)])
        }).get()
        #expect(dos.map(\.name) == ["vda1", "vda5", "vda6"])
        #expect(dos.map(\.offset) == [512, 34 * 512, 82 * 512] as [UInt64])
        // An extended partition with no logical one yet has no EBR.
        #expect(try Self.browse(Self.dos([Entry(type: 0x83, start: 1, count: 31), Entry(type: 0x0f, start: 32, count: 200)])).get().map(\.name) == ["vda1"])
    }

    @Test(arguments: [
        ("entries LBA near UInt64.max", Header(entriesLBA: .max - 1), "partition entries LBA (18446744073709551614)"),
        ("entries LBA beyond the disk", Header(entriesLBA: 1000), "partition entries LBA (1000)"),
        ("entries over the header", Header(entriesLBA: 1), "partition entries LBA (1) overlaps"),
        ("entries inside the usable sectors", Header(entriesLBA: 100), "inside the usable sectors"),
        ("entry size 2 GiB", Header(count: .max, entrySize: 1 << 31), "partition entry size (2147483648)"),
        ("entry count × size too large", Header(count: .max, entrySize: 4096), "partition entry count (4294967295)"),
        ("entry size zero", Header(entrySize: 0), "partition entry size (0)"),
        ("header size huge", Header(size: .max), "header size (4294967295)"),
        ("own LBA elsewhere", Header(own: 7), "own LBA (7)"),
        ("last usable LBA at UInt64.max", Header(lastUsable: .max), "last usable LBA (18446744073709551615)"),
        ("first usable after last", Header(firstUsable: 200, lastUsable: 100), "first usable LBA (200)"),
    ] as [(String, Header, String)])
    func aCraftedGPTHeaderIsAnError(_ name: String, header: Header, fragment: String) {
        Self.expectCorrupt(Self.gpt([(34, 97)], header: header), fragment)
    }

    @Test(arguments: [
        ("last before first", [(100, 99)], "ends (last LBA 99) before it starts (first LBA 100)"),
        ("last at UInt64.max", [(34, .max)], "GPT partition 1 (first LBA 34, last LBA 18446744073709551615) lies outside"),
        ("first and last at UInt64.max", [(.max, .max)], "GPT partition 1 (first LBA 18446744073709551615"),
        ("beyond the usable sectors", [(34, 240)], "lies outside the usable sectors 34-222"),
        ("over the entries", [(2, 40)], "GPT partition 1 (first LBA 2"),
        ("overlapping", [(34, 100), (100, 150)], "partitions 1 and 2 overlap"),
    ] as [(String, [(UInt64, UInt64)], String)])
    func aCraftedGPTPartitionIsAnError(_ name: String, partitions: [(UInt64, UInt64)], fragment: String) {
        Self.expectCorrupt(Self.gpt(partitions), fragment)
    }

    /// The EBR chain of an extended partition at sector 32 (200 sectors): an EBR at 32 with one logical partition,
    /// linking to the next EBR at `link` (relative to sector 32), which `second` fills in.
    static func chain(link: UInt32, _ second: (inout [UInt8]) -> Void) -> MemoryDisk {
        dos([Entry(type: 0x83, start: 1, count: 31), Entry(type: 0x05, start: 32, count: 200)]) { bytes in
            Self.mbr(&bytes, sector: 32, [Entry(type: 0x83, start: 2, count: 10), Entry(type: 0x05, start: link, count: 20)])
            second(&bytes)
        }
    }

    @Test func aCraftedMBRIsAnError() {
        Self.expectCorrupt(Self.dos([Entry(type: 0x83, start: 100, count: 1000)]), "partition 1 (start sector 100, 1000 sectors) ends beyond the disk's 256 sectors")
        Self.expectCorrupt(Self.dos([Entry(type: 0x83, start: .max, count: .max)]), "partition 1 (start sector 4294967295")
        Self.expectCorrupt(
            Self.dos([Entry(type: 0x83, start: 1, count: 100), Entry(type: 0x83, start: 50, count: 100)]), "partitions 1 and 2 overlap")
        Self.expectCorrupt(
            Self.dos([Entry(type: 0x05, start: 1, count: 100), Entry(type: 0x0f, start: 101, count: 100)]), "2 extended partitions (1, 2)")
        Self.expectCorrupt(Self.dos([Entry(type: 0x05, start: 32, count: .max)]), "extended partition 1 (start sector 32, 4294967295 sectors) ends beyond")
    }

    @Test func aCraftedEBRChainIsAnError() {
        // The second EBR links to itself, then one links back to the first.
        Self.expectCorrupt(
            Self.chain(link: 20) { Self.mbr(&$0, sector: 52, [Entry(type: 0x83, start: 2, count: 10), Entry(type: 0x05, start: 20, count: 20)]) },
            "comes back to the EBR at sector 52")
        Self.expectCorrupt(
            Self.chain(link: 20) { Self.mbr(&$0, sector: 52, [Entry(type: 0x83, start: 2, count: 10), Entry(type: 0x05, start: 0x7fff_ffff, count: 20)]) },
            "points at sector \(32 + 0x7fff_ffff), outside it")
        Self.expectCorrupt(Self.chain(link: 300) { _ in }, "points at sector 332, outside it")
        Self.expectCorrupt(Self.chain(link: 20) { _ in }, "EBR at sector 52 in extended partition 2 (sectors 32-231) has no boot signature")
        Self.expectCorrupt(
            Self.chain(link: 20) { Self.mbr(&$0, sector: 52, [Entry(type: 0x83, start: 2, count: 1000)]) },
            "logical partition 6 (start sector 54, 1000 sectors) lies outside extended partition 2")
        // 150 EBRs of one sector each, every one linking to the next: longer than any real chain.
        Self.expectCorrupt(
            Self.dos(sectors: 512, [Entry(type: 0x05, start: 1, count: 500)]) { bytes in
                for index in 0..<150 { Self.mbr(&bytes, sector: 1 + 2 * index, [Entry(type: 0x83, start: 1, count: 1), Entry(type: 0x05, start: UInt32(2 * index + 2), count: 2)]) }
            },
            "longer than 128 EBRs")
    }

    /// A disk that answers fewer bytes than asked (a datastore cut short): an error, not an index out of range.
    @Test func aDiskThatAnswersShortIsAnError() {
        struct ShortDisk: GuestDisk {
            let target = "vda"
            let size: UInt64 = 1 << 20
            func read(offset: UInt64, length: Int) throws -> [UInt8] { [UInt8](repeating: 0, count: length / 2) }
        }
        do {
            _ = try GuestBrowser(disks: [ShortDisk()])
            Issue.record("a disk that answers short was browsed")
        } catch let error as GuestFilesError {
            #expect(error.code == .corrupt && error.message.contains("vda") && error.message.contains("gave 256 of 512 bytes"), "\(error)")
        } catch {
            Issue.record("not a GuestFilesError: \(error)")
        }
    }
}
