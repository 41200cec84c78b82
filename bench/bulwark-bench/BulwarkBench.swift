import ArgumentParser
import Foundation
import NBD

/// `bulwark-bench`: measures Bulwark's data paths, for `bench/run`.
@main
struct BulwarkBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bulwark-bench",
        abstract: "Measure Bulwark's data paths (run through bench/run, which also measures the references).",
        subcommands: [ReadExport.self, StoreBench.self, CatalogBench.self, BrowseBench.self, FloorBench.self, AttachBench.self])
}

/// Reads every allocated byte of an NBD export the way the agent's transfer phase will: block status first, then
/// bounded parallel reads over several connections.
struct ReadExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read-export", abstract: "Read every allocated extent of an NBD export; print seconds and bytes as JSON.")

    @Option(help: "libnbd URI of the export, e.g. nbd+unix:///disk?socket=/tmp/s.sock")
    var uri: String

    @Option(help: "Number of NBD connections.")
    var connections = 2

    @Option(help: "Bytes per read request.")
    var requestSize = 4 << 20

    func validate() throws {
        guard connections >= 1, connections <= 16 else { throw ValidationError("--connections must be 1 to 16") }
        guard requestSize >= 4096, requestSize <= 32 << 20 else {
            throw ValidationError("--request-size must be 4096 to 33554432 bytes")
        }
    }

    func run() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let export = try await NBDExport.open(.uri(uri), metaContexts: [MetaContext.baseAllocation], connections: connections)
        let extents = try await export.blockStatus(0..<export.size)[MetaContext.baseAllocation] ?? []
        var requests: [(UInt64, Int)] = []
        for extent in extents where !extent.isZero {
            var offset = extent.offset
            while offset < extent.end {
                let length = Int(min(UInt64(requestSize), extent.end - offset))
                requests.append((offset, length))
                offset += UInt64(length)
            }
        }
        let inFlight = connections * 2
        let bytes = try await withThrowingTaskGroup(of: Int.self) { group in
            var total = 0
            var next = requests.makeIterator()
            for _ in 0..<inFlight {
                guard let (offset, length) = next.next() else { break }
                group.addTask { try await export.read(offset: offset, length: length).count }
            }
            while let done = try await group.next() {
                total += done
                if let (offset, length) = next.next() {
                    group.addTask { try await export.read(offset: offset, length: length).count }
                }
            }
            return total
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(#"{"seconds": \#(seconds), "bytes": \#(bytes), "requests": \#(requests.count)}"#)
    }
}
