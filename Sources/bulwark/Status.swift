import ArgumentParser
import BulwarkAPI
import BulwarkClient
import Foundation

/// `bulwark status`: the server's identity and what it holds.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the server's version, identity and contents.")

    @OptionGroup var server: ServerOptions

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() async throws {
        let status: ServerStatus = try await server.withClient { client throws(ClientError) in
            try await client.get("/v1/status")
        }
        if json {
            try printJSON(status)
        } else {
            print("server     \(status.serverID)")
            print("version    \(status.version)")
            print("started    \(status.startedAt.formatted(.iso8601))")
            print("datastores \(status.datastores)")
        }
    }
}

/// Prints a value as pretty JSON with ISO 8601 dates, the form every `--json` takes.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
