import ArgumentParser
import Foundation
import GuestFiles

/// Times item-level recovery's first listing of a folder in a raw disk image, from nothing open to the entries:
/// partition tables, then libext2fs, or the libguestfs appliance for LVM, XFS and NTFS (its start included).
struct BrowseBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "browse",
        abstract: "List a folder of a raw disk image as item-level recovery does; print seconds and entries as JSON.")

    @Option(help: "A raw disk image, read as the guest's disk TARGET.")
    var image: String

    @Option(help: "The guest's name for the disk: the first part of paths under it.")
    var target = "vdb"

    @Option(help: "The folder to list, e.g. /vdb1/etc or /vg0-root/etc.")
    var path: String

    /// A raw image file as a guest disk.
    struct ImageDisk: GuestDisk {
        let target: String
        let handle: FileHandle
        let size: UInt64

        func read(offset: UInt64, length: Int) throws -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: length)
            let got = bytes.withUnsafeMutableBytes { pread(handle.fileDescriptor, $0.baseAddress, length, off_t(offset)) }
            guard got == length else { throw ValidationError("short read of \(length) bytes at \(offset)") }
            return bytes
        }
    }

    func run() throws {
        guard let handle = FileHandle(forReadingAtPath: image) else { throw ValidationError("cannot open --image \(image)") }
        let size = try handle.seekToEnd()
        let clock = ContinuousClock()
        let start = clock.now
        let browser = try GuestBrowser(disks: [ImageDisk(target: target, handle: handle, size: size)])
        let entries = try browser.list(path)
        let seconds = (clock.now - start) / .seconds(1)
        print(#"{"seconds": \#(seconds), "entries": \#(entries.count)}"#)
    }
}
