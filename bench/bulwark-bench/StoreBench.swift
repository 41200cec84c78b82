import ArgumentParser
import BulwarkStore
import Foundation

/// Stores a file in a fresh datastore the way a full sync does (chunk, hash, compress, write durably), then reads
/// every chunk back the way a restore does (CRC, decompress, hash).
struct StoreBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Write a file into a new datastore and read it back; print seconds and bytes as JSON.")

    @Option(help: "The file to store (its bytes are read in chunk-size pieces, like dd bs=4M).")
    var source: String

    @Option(help: "Where to create the datastore; must be missing or empty. Removed afterwards unless --keep.")
    var datastore: String

    @Option(help: "Chunk size in bytes.")
    var chunkSize = DatastoreConfiguration.defaultChunkSize

    @Flag(help: "Keep the datastore.")
    var keep = false

    func run() throws {
        let store = try Datastore.create(at: datastore, chunkSize: chunkSize)
        defer { if !keep { try? FileManager.default.removeItem(atPath: store.root) } }
        // Plain read(2) of a chunk at a time, as dd does: FileHandle reads in 4 KiB pieces, which would measure
        // Foundation rather than the datastore.
        let input = open(source, O_RDONLY)
        guard input >= 0 else { throw ValidationError("cannot open \(source): \(String(cString: strerror(errno)))") }
        defer { close(input) }
        func nextChunk() throws -> [UInt8]? {
            var buffer = [UInt8](repeating: 0, count: chunkSize)
            let filled = buffer.withUnsafeMutableBytes { raw -> Int in
                var offset = 0
                while offset < raw.count {
                    let count = read(input, raw.baseAddress! + offset, raw.count - offset)
                    if count < 0, errno == EINTR { continue }
                    if count <= 0 { return count < 0 ? -1 : offset }
                    offset += count
                }
                return offset
            }
            guard filled >= 0 else { throw ValidationError("cannot read \(source): \(String(cString: strerror(errno)))") }
            if filled == 0 { return nil }
            buffer.removeSubrange(filled...)
            return buffer
        }

        let clock = ContinuousClock()
        var digests: [ChunkDigest] = []
        var bytes = 0
        var stored = 0
        let writeStart = clock.now
        while let data = try nextChunk() {
            let result = try store.writeChunk(data)
            digests.append(result.digest)
            bytes += data.count
            if result.isNew { stored += result.storedBytes }
        }
        let writeSeconds = Self.seconds(clock.now - writeStart)

        let readStart = clock.now
        var readBytes = 0
        for digest in digests { readBytes += try store.readChunk(digest).count }
        let readSeconds = Self.seconds(clock.now - readStart)
        guard readBytes >= bytes else { throw ValidationError("read back \(readBytes) bytes of \(bytes)") }

        print(
            #"{"write_seconds": \#(writeSeconds), "read_seconds": \#(readSeconds), "bytes": \#(bytes), "#
                + #""stored_bytes": \#(stored), "chunks": \#(digests.count)}"#)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
