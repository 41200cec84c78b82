/// The bodies of the fuzz targets in `Tests/Fuzz`: libFuzzer's entry points call these, and so does a unit test
/// that replays the committed corpus, so a normal test run checks every input a fuzz run ever kept.
///
/// Errors are the expected answer to hostile bytes and are dropped; a finding is a trap, a sanitizer report, or a
/// read outside the disk (``MemoryDisk`` stops on one).
package enum FuzzTargets {
    /// Reads `bytes` as a disk's MBR or GPT, then probes what each partition holds.
    package static func partitionTable(_ bytes: [UInt8]) {
        let disk = MemoryDisk(target: "vda", bytes: bytes)
        guard let volumes = try? PartitionTable.volumes(of: disk) else { return }
        for volume in volumes {
            precondition(volume.offset <= disk.size && volume.size <= disk.size - volume.offset, "\(volume.name) lies outside its disk")
        }
    }

    /// Opens `bytes` as an ext2/3/4 file system with libext2fs and walks its folders as a browsing admin would:
    /// list, look up each name, read links and the first piece of each file. Bounded, so that one input cannot
    /// keep the fuzzer for long.
    package static func ext2Directories(_ bytes: [UInt8]) {
        let disk = MemoryDisk(target: "vda", bytes: bytes)
        _ = try? PartitionTable.volumes(of: disk)
        let volume = GuestVolume(name: "vda", disk: "vda", offset: 0, size: disk.size, type: "ext4")
        guard let fileSystem = try? Ext2Volume(disk: disk, volume: volume) else { return }
        var budget = 64
        walk(fileSystem, [], depth: 0, budget: &budget)
    }

    /// Stops a file read after its first piece.
    private struct Enough: Error {}

    private static func walk(_ fileSystem: Ext2Volume, _ path: [String], depth: Int, budget: inout Int) {
        guard depth < 8, budget > 0 else { return }
        budget -= 1
        guard let entries = try? fileSystem.list(path) else { return }
        for entry in entries.prefix(32) {
            let child = path + [entry.name]
            _ = try? fileSystem.entry(child)
            switch entry.kind {
            case .directory:
                walk(fileSystem, child, depth: depth + 1, budget: &budget)
            case .file:
                _ = try? fileSystem.read(child) { _ in throw Enough() }
            default:
                break
            }
        }
    }
}
