import CExt2
import Foundation

/// An ext2/3/4 file system inside a guest disk, opened read-only with libext2fs over the disk's bytes.
///
/// A libext2fs handle is not thread-safe: one volume is used by one thread at a time (its owner serializes).
final class Ext2Volume {
    private let source: UnsafeMutablePointer<bulwark_ext2_source>
    private let reader: Unmanaged<Reader>
    private let fs: ext2_filsys
    let volume: GuestVolume

    /// The bytes the C I/O manager asks for, relative to the volume's start.
    final class Reader {
        let disk: any GuestDisk
        let offset: UInt64
        var failure: (any Error)?
        init(disk: any GuestDisk, offset: UInt64) {
            self.disk = disk
            self.offset = offset
        }
    }

    init(disk: any GuestDisk, volume: GuestVolume) throws(GuestFilesError) {
        self.volume = volume
        let reader = Unmanaged.passRetained(Reader(disk: disk, offset: volume.offset))
        self.reader = reader
        source = .allocate(capacity: 1)
        source.initialize(to: bulwark_ext2_source(
            context: reader.toOpaque(),
            read: { context, offset, length, buffer in
                let reader = Unmanaged<Reader>.fromOpaque(context!).takeUnretainedValue()
                do {
                    // The C side bounds offset and length by the volume's size, which the partition table checked
                    // against the disk's.
                    let bytes = try reader.disk.read(offset: reader.offset + offset, length: Int(length))
                    guard bytes.count == Int(length) else { return EIO }
                    if let buffer, !bytes.isEmpty {
                        bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
                    }
                    return 0
                } catch {
                    reader.failure = error
                    return EIO
                }
            },
            size: volume.size))
        do {
            try Self.checkSuperblock(disk: disk, volume: volume)
        } catch {
            source.deallocate()
            reader.release()
            throw error
        }
        var handle: ext2_filsys?
        let code = bulwark_ext2_open(source, &handle)
        guard code == 0, let handle else {
            let cause = reader.takeUnretainedValue().failure.map { " (\($0))" } ?? ""
            source.deallocate()
            reader.release()
            throw GuestFilesError(
                .corrupt,
                "the \(volume.type) file system on \(volume.name) cannot be opened: \(Self.message(code))\(cause); the guest's file system may be damaged")
        }
        fs = handle
    }

    /// The superblock's size fits the volume: libext2fs sizes its group descriptor table by the block count the
    /// superblock gives, so a hostile count would have it allocate gigabytes before any read fails.
    private static func checkSuperblock(disk: any GuestDisk, volume: GuestVolume) throws(GuestFilesError) {
        // Too small for a superblock, or not ext: libext2fs says what is wrong with it.
        guard volume.size >= 2048 else { return }
        let superblock: [UInt8]
        do {
            superblock = try disk.read(offset: volume.offset + 1024, length: 1024)
        } catch {
            throw GuestFilesError(.corrupt, "the \(volume.type) file system on \(volume.name) cannot be opened: reading its superblock failed (\(error))")
        }
        guard superblock.count == 1024, superblock[56] == 0x53, superblock[57] == 0xef else { return }
        let logBlockSize = PartitionTable.le32(superblock, 24)
        // libext2fs reads blocks of 1 KiB to 64 KiB.
        guard logBlockSize <= 6 else {
            throw GuestFilesError(
                .corrupt,
                "the \(volume.type) file system on \(volume.name) cannot be opened: its superblock's block size field (\(logBlockSize)) is not 0 to 6; the guest's file system is damaged")
        }
        let blockSize = UInt64(1024) << logBlockSize
        var blocks = UInt64(PartitionTable.le32(superblock, 4))
        if PartitionTable.le32(superblock, 96) & 0x80 != 0 { blocks |= UInt64(PartitionTable.le32(superblock, 0x150)) << 32 }
        let (bytes, overflow) = blocks.multipliedReportingOverflow(by: blockSize)
        guard !overflow, bytes <= volume.size else {
            throw GuestFilesError(
                .corrupt,
                "the \(volume.type) file system on \(volume.name) cannot be opened: its superblock gives \(blocks) blocks of \(blockSize) bytes, more than the \(volume.size) bytes of its volume; the guest's file system is damaged or cut short")
        }
    }

    deinit {
        ext2fs_close(fs)
        source.deallocate()
        reader.release()
    }

    static func message(_ code: errcode_t) -> String {
        bulwark_ext2_message(code).map { String(cString: $0) } ?? "error \(code)"
    }

    private func check(_ code: errcode_t, _ what: @autoclosure () -> String) throws(GuestFilesError) {
        guard code == 0 else {
            let cause = reader.takeUnretainedValue().failure.map { " (\($0))" } ?? ""
            throw GuestFilesError(.corrupt, "\(what()) on \(volume.name): \(Self.message(code))\(cause)")
        }
    }

    static let root = ext2_ino_t(EXT2_ROOT_INO)

    /// The inode at `path` (components under the volume's root), not following a final symlink.
    func lookup(_ components: [String]) throws(GuestFilesError) -> ext2_ino_t {
        var inode = Self.root
        for (index, name) in components.enumerated() {
            var next: ext2_ino_t = 0
            let code = ext2fs_lookup(fs, inode, name, Int32(name.utf8.count), nil, &next)
            if code == EXT2_ET_FILE_NOT_FOUND || (code == 0 && next == 0) {
                throw GuestFilesError(.notFound, "there is no \(components[...index].joined(separator: "/")) in \(volume.name)")
            }
            try check(code, "cannot look up \(components[...index].joined(separator: "/"))")
            if index < components.count - 1 {
                let entry = try entry(next, name: name)
                guard entry.kind == .directory else {
                    throw GuestFilesError(
                        .notFound,
                        "\(components[...index].joined(separator: "/")) in \(volume.name) is a \(entry.kind), not a folder (links are not followed)")
                }
            }
            inode = next
        }
        return inode
    }

    /// What inode `number` is, named `name`.
    func entry(_ number: ext2_ino_t, name: String) throws(GuestFilesError) -> GuestEntry {
        var inode = ext2_inode()
        try check(ext2fs_read_inode(fs, number, &inode), "cannot read inode \(number) (\(name))")
        let mode = UInt32(inode.i_mode)
        let kind = GuestEntry.Kind(mode: mode)
        var entry = GuestEntry(
            name: name, kind: kind, size: UInt64(inode.i_size) | UInt64(inode.i_size_high) << 32, mode: mode & 0o7777,
            modified: Date(timeIntervalSince1970: TimeInterval(inode.i_mtime)),
            accessed: Date(timeIntervalSince1970: TimeInterval(inode.i_atime)), inode: UInt64(number))
        if kind == .symlink { entry.target = try linkTarget(number, &inode) }
        return entry
    }

    /// The entries of directory `number`, without `.` and `..`, sorted by name.
    func list(_ number: ext2_ino_t) throws(GuestFilesError) -> [GuestEntry] {
        final class Collected {
            var names: [(String, ext2_ino_t)] = []
        }
        let collected = Collected()
        let box = Unmanaged.passRetained(collected)
        defer { box.release() }
        let code = ext2fs_dir_iterate2(fs, number, 0, nil, { _, _, dirent, _, _, _, context in
            guard let dirent, let context else { return 0 }
            let collected = Unmanaged<Collected>.fromOpaque(context).takeUnretainedValue()
            let length = Int(dirent.pointee.name_len & 0xff)
            // Only the name's own bytes, which libext2fs checked lie within the entry: the struct's name field is
            // 255 bytes long, and copying all of it reads past the end of the folder block's buffer.
            let name = String(
                decoding: UnsafeRawBufferPointer(start: UnsafeRawPointer(dirent) + MemoryLayout<ext2_dir_entry>.offset(of: \.name)!, count: length),
                as: UTF8.self)
            if dirent.pointee.inode != 0, name != ".", name != ".." {
                collected.names.append((name, dirent.pointee.inode))
            }
            return collected.names.count > 1_000_000 ? DIRENT_ABORT : 0
        }, box.toOpaque())
        try check(code, "cannot read folder inode \(number)")
        var entries: [GuestEntry] = []
        for (name, inode) in collected.names.sorted(by: { $0.0 < $1.0 }) { entries.append(try entry(inode, name: name)) }
        return entries
    }

    /// Hands the content of file `number` to `body` in pieces, in order.
    func read(_ number: ext2_ino_t, _ body: ([UInt8]) throws -> Void) throws {
        var file: ext2_file_t?
        try check(ext2fs_file_open(fs, number, 0, &file), "cannot open file inode \(number)")
        guard let file else { return }
        defer { ext2fs_file_close(file) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            var got: UInt32 = 0
            let code = buffer.withUnsafeMutableBytes { ext2fs_file_read(file, $0.baseAddress, UInt32($0.count), &got) }
            try check(code, "cannot read file inode \(number)")
            if got == 0 { return }
            try body(Array(buffer[0..<Int(got)]))
        }
    }

    private func linkTarget(_ number: ext2_ino_t, _ inode: inout ext2_inode) throws(GuestFilesError) -> String {
        let size = Int(inode.i_size)
        guard size > 0, size < 4096 else { throw GuestFilesError(.corrupt, "symlink inode \(number) on \(volume.name) has a target of \(size) bytes") }
        if ext2fs_is_fast_symlink(&inode) != 0 {
            return withUnsafeBytes(of: inode.i_block) { String(decoding: $0.prefix(size), as: UTF8.self) }
        }
        if inode.i_flags & UInt32(EXT4_INLINE_DATA_FL) != 0 {
            // ext2fs_inline_data_get fills as many bytes as the inode's inline data holds, which the guest chose:
            // size the buffer by that, not by the link's own size field.
            var inline: Int = 0
            try check(ext2fs_inline_data_size(fs, number, &inline), "cannot read symlink inode \(number)")
            guard inline >= 0, inline <= 1 << 16 else {
                throw GuestFilesError(.corrupt, "symlink inode \(number) on \(volume.name) has \(inline) bytes of inline data")
            }
            var bytes = [UInt8](repeating: 0, count: max(inline, 1))
            var got: Int = 0
            try check(ext2fs_inline_data_get(fs, number, &inode, &bytes, &got), "cannot read symlink inode \(number)")
            return String(decoding: bytes.prefix(min(got, size)), as: UTF8.self)
        }
        var target: [UInt8] = []
        do {
            try read(number) { target += $0 }
        } catch let error as GuestFilesError {
            throw error
        } catch {
            throw GuestFilesError(.corrupt, "cannot read symlink inode \(number) on \(volume.name): \(error)")
        }
        return String(decoding: target.prefix(size), as: UTF8.self)
    }
}
