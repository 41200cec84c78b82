import BulwarkAgent
import BulwarkStore
import Foundation
import Libvirt
import TestSupport
import Testing

/// Reading disk image headers: qcow2 v3 can hold dirty bitmaps, v2 cannot, raw is not qcow2; and how doctor judges
/// each.
@Suite struct DiskImageFormatTests {
    static let mib: UInt64 = 1 << 20

    static func image(_ directory: TemporaryDirectory, _ name: String, _ options: [String]) throws -> String {
        let path = directory.file(name)
        try ChildProcess.run("qemu-img", ["create", "-q"] + options + [path, "64M"])
        return path
    }

    @Test func qcow2CompatOnePointOneIsVersionThree() throws {
        let directory = try TemporaryDirectory("disk-format")
        defer { directory.cleanUp() }
        let path = try Self.image(directory, "v3.qcow2", ["-f", "qcow2", "-o", "compat=1.1"])
        let format = try DiskImageFormat.read(path: path)
        #expect(format == .qcow2(version: 3, virtualSize: 64 * Self.mib, corrupt: false))
        #expect(format.supportsBitmaps)
        #expect(format.virtualSize == 64 * Self.mib)
    }

    @Test func qcow2CompatZeroPointTenIsVersionTwo() throws {
        let directory = try TemporaryDirectory("disk-format")
        defer { directory.cleanUp() }
        let path = try Self.image(directory, "v2.qcow2", ["-f", "qcow2", "-o", "compat=0.10"])
        let format = try DiskImageFormat.read(path: path)
        #expect(format == .qcow2(version: 2, virtualSize: 64 * Self.mib, corrupt: false))
        #expect(!format.supportsBitmaps)
    }

    @Test func aRawFileIsNotQcow2AndItsSizeIsItsLength() async throws {
        let directory = try TemporaryDirectory("disk-format")
        defer { directory.cleanUp() }
        let path = try Self.image(directory, "disk.raw", ["-f", "raw"])
        let format = try await DiskImageFormat.inspect(path: path)
        #expect(format == .notQcow2(size: 64 * Self.mib))
        #expect(!format.supportsBitmaps)
    }

    @Test func shortAndEmptyFilesAreNotQcow2() throws {
        let directory = try TemporaryDirectory("disk-format")
        defer { directory.cleanUp() }
        try Data().write(to: URL(fileURLWithPath: directory.file("empty")))
        try Data([0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 3]).write(to: URL(fileURLWithPath: directory.file("short")))
        #expect(try DiskImageFormat.read(path: directory.file("empty")) == .notQcow2(size: 0))
        #expect(try DiskImageFormat.read(path: directory.file("short")) == .notQcow2(size: 8))
    }

    @Test func theCorruptBitIsRead() {
        var header = [UInt8](repeating: 0, count: 104)
        header.replaceSubrange(0..<4, with: [0x51, 0x46, 0x49, 0xFB])
        header[7] = 3
        header[31] = 0x10  // virtual size, big-endian at offset 24
        header[79] = 0b10  // incompatible features at offset 72: bit 1 is "corrupt"
        let format = DiskImageFormat.parse(header: header, fileSize: 0)
        #expect(format == .qcow2(version: 3, virtualSize: 0x10, corrupt: true))
    }

    @Test func aMissingFileSaysSo() async {
        let error = await #expect(throws: DiskImageError.self) {
            try await DiskImageFormat.inspect(path: "/nonexistent/disk.qcow2")
        }
        #expect(error?.errno == ENOENT)
        #expect(error?.description == "cannot read /nonexistent/disk.qcow2: No such file or directory")
    }

    // MARK: doctor's judgement of a disk

    static let qcow2Disk = DiskDescription(target: "vda", format: "qcow2", sourcePath: "/images/web1.qcow2")
    static let rawDisk = DiskDescription(target: "vdb", format: "raw", sourcePath: "/images/web1-data.raw")

    @Test func qcow2VersionThreeIsOK() {
        let check = HostCheck.disk(
            domain: "web1", Self.qcow2Disk, image: .success(.qcow2(version: 3, virtualSize: 1, corrupt: false)))
        #expect(check.status == .ok)
        #expect(check.message == "VM web1: disk vda is qcow2 v3: incremental syncs")
        #expect(check.fix == nil)
    }

    @Test func qcow2VersionTwoFailsWithTheAmendCommand() {
        let check = HostCheck.disk(
            domain: "web1", Self.qcow2Disk, image: .success(.qcow2(version: 2, virtualSize: 1, corrupt: false)))
        #expect(check.status == .fail)
        #expect(check.fix?.contains("qemu-img amend -f qcow2 -o compat=1.1 /images/web1.qcow2") == true)
    }

    @Test func aCorruptImageFails() {
        let check = HostCheck.disk(
            domain: "web1", Self.qcow2Disk, image: .success(.qcow2(version: 3, virtualSize: 1, corrupt: true)))
        #expect(check.status == .fail)
        #expect(check.fix?.contains("qemu-img check -r all") == true)
    }

    @Test func rawIsAWarningNotAFailure() {
        let check = HostCheck.disk(domain: "web1", Self.rawDisk, image: .success(.notQcow2(size: 1)))
        #expect(check.status == .warn)
        #expect(check.message == "VM web1: disk vdb is raw: consistency-check syncs only (no change tracking)")
        #expect(check.fix?.contains("qemu-img convert") == true)
    }

    @Test func qcow2InTheXMLButRawOnDiskFails() {
        let check = HostCheck.disk(domain: "web1", Self.qcow2Disk, image: .success(.notQcow2(size: 1)))
        #expect(check.status == .fail)
        #expect(check.message.contains("has no qcow2 header"))
    }

    @Test func anUnreadableImageSaysSo() {
        let check = HostCheck.disk(
            domain: "web1", Self.qcow2Disk, image: .failure(DiskImageError(path: "/images/web1.qcow2", errno: EACCES)))
        #expect(check.status == .warn)
        #expect(check.message.contains("cannot read /images/web1.qcow2: Permission denied"))
        #expect(check.fix == "run `bulwark-agent doctor` as root")
    }

    @Test func aNetworkDiskIsNotChecked() {
        let disk = DiskDescription(target: "vdc", sourceType: "network", format: "raw")
        let check = HostCheck.disk(domain: "web1", disk, image: nil)
        #expect(check.status == .warn)
        #expect(check.message.contains("not checked"))
    }

    /// Images that would make a reader open another file: a backing file or an external data file.
    @Test func externalFilesAreFoundInTheHeader() throws {
        let directory = try TemporaryDirectory("disk-format")
        defer { directory.cleanUp() }
        let base = try Self.image(directory, "base.qcow2", ["-f", "qcow2"])
        #expect(DiskImageFormat.externalReference(header: try DiskImageFormat.readHeader(path: base).header) == nil)
        let overlay = directory.file("overlay.qcow2")
        try ChildProcess.run("qemu-img", ["create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", overlay])
        #expect(DiskImageFormat.externalReference(header: try DiskImageFormat.readHeader(path: overlay).header) == "a backing file")
        let data = try Self.image(
            directory, "data.qcow2", ["-f", "qcow2", "-o", "data_file=\(directory.file("data.raw")),data_file_raw=on"])
        #expect(DiskImageFormat.externalReference(header: try DiskImageFormat.readHeader(path: data).header) == "an external data file")
        let raw = try Self.image(directory, "plain.img", ["-f", "raw"])
        #expect(DiskImageFormat.externalReference(header: try DiskImageFormat.readHeader(path: raw).header) == nil)
        // A link is not followed when asked not to.
        try FileManager.default.createSymbolicLink(atPath: directory.file("link"), withDestinationPath: base)
        #expect(throws: DiskImageError.self) { try DiskImageFormat.readHeader(path: directory.file("link"), followingLinks: false) }
    }
}
