import ArgumentParser
import BulwarkAPI
import BulwarkClient
import Foundation

/// `bulwark datastore ...`: where recovery points are kept.
struct DatastoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "datastore",
        abstract: "Create and inspect datastores, the deduplicating stores that hold recovery points.",
        subcommands: [Create.self, List.self, Show.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a datastore in an empty or missing folder on the server.",
            discussion: """
                NAME: 2–50 characters, a letter first, then letters, digits and hyphens. The folder must be empty \
                or missing, writable by bulwarkd, and not inside another datastore. The chunk size is fixed for \
                the datastore's life: a power of two from 64K to 16M (default 4M).
                """)

        @Argument(help: "The datastore's name.") var name: String
        @Option(name: .long, help: "Absolute path of the folder on the server.") var path: String
        @Option(name: .long, help: "Chunk size, e.g. 1M, 4M, 16M.") var chunkSize: String?
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let request = DatastoreCreateRequest(name: name, path: path, chunkSize: chunkSize)
            let view: DatastoreView = try await server.withClient { client throws(ClientError) in
                try await client.post("/v1/datastores", request)
            }
            if json { try printJSON(view) } else { print("created datastore \(view.name) at \(view.path)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List datastores.")
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let views: [DatastoreView] = try await server.withClient { client throws(ClientError) in
                try await client.get("/v1/datastores")
            }
            if json { return try printJSON(views) }
            if views.isEmpty { return print("no datastores; create one with: bulwark datastore create NAME --path DIR") }
            printTable(
                ["NAME", "PATH", "CHUNK", "GROUPS"],
                views.map { [$0.name, $0.path, formatBytes(UInt64($0.chunkSize)), $0.groups.joined(separator: ",")] })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a datastore and its usage.")
        @Argument(help: "The datastore's name.") var name: String
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let view: DatastoreView = try await server.withClient { client throws(ClientError) in
                try await client.get("/v1/datastores/\(name.pathEscaped)")
            }
            if json { return try printJSON(view) }
            print("name          \(view.name)")
            print("path          \(view.path)")
            print("chunk size    \(formatBytes(UInt64(view.chunkSize)))")
            print("created       \(view.createdAt.formatted(.iso8601))")
            print("groups        \(view.groups.isEmpty ? "-" : view.groups.joined(separator: ", "))")
            if let usage = view.usage {
                print("points        \(usage.recoveryPoints)")
                print("logical       \(formatBytes(usage.logicalBytes))")
                print("stored        \(formatBytes(usage.storedBytes)) in \(usage.chunks) chunks")
                print("dedup         \(String(format: "%.2f", usage.dedupRatio))x")
                print("compression   \(String(format: "%.2f", usage.compressionRatio))x")
                if let free = usage.freeBytes { print("free          \(formatBytes(free))") }
            }
            if let problem = view.problem { print("problem       \(problem)") }
        }
    }
}
