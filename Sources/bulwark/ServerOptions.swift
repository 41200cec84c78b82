import ArgumentParser
import BulwarkClient
import BulwarkCore

/// The options every command that talks to the server takes.
struct ServerOptions: ParsableArguments {
    @Option(name: .long, help: "Server URL, e.g. https://backup1:9443 (default: BULWARK_SERVER, then the local server).")
    var server: String?

    @Option(name: .long, help: "Admin token (default: BULWARK_TOKEN, then the local server's admin.token).")
    var token: String?

    @Option(name: .long, help: "CA certificate to trust (default: BULWARK_CA, then the local server's ca.pem).")
    var ca: String?

    /// Runs `body` with a connected client, turning client errors into a message on stderr and an exit code.
    func withClient<T>(_ body: (BulwarkAPIClient) async throws(ClientError) -> T) async throws -> T {
        try await Self.withClient(server: server, token: token, ca: ca, body)
    }

    /// ``withClient(_:)`` with the options given.
    static func withClient<T>(
        server: String?, token: String?, ca: String?, _ body: (BulwarkAPIClient) async throws(ClientError) -> T
    ) async throws -> T {
        let client: BulwarkAPIClient
        do {
            client = try BulwarkAPIClient(configuration: try ClientConfiguration.resolve(server: server, token: token, ca: ca))
        } catch {
            printError("bulwark: \(error.message)")
            throw ExitCode(78)
        }
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            printError("bulwark: \(error.message)")
            throw ExitCode(Self.exitCode(for: error.code))
        }
    }

    static func exitCode(for code: ClientError.Code) -> Int32 {
        switch code {
        case .rejected: 1
        case .notFound: 3
        case .unauthorized: 4
        case .unreachable, .notAvailable: 69
        case .configuration: 78
        default: 1
        }
    }
}

/// The server options of `datastore create`, whose `--ca` is the S3 gateway's CA: the server's CA is `--server-ca`.
struct ServerOptionsWithServerCA: ParsableArguments {
    @Option(name: .long, help: "Server URL, e.g. https://backup1:9443 (default: BULWARK_SERVER, then the local server).")
    var server: String?

    @Option(name: .long, help: "Admin token (default: BULWARK_TOKEN, then the local server's admin.token).")
    var token: String?

    @Option(
        name: .customLong("server-ca"),
        help: "CA certificate of the Bulwark server (default: BULWARK_CA, then the local server's ca.pem).")
    var serverCA: String?

    func withClient<T>(_ body: (BulwarkAPIClient) async throws(ClientError) -> T) async throws -> T {
        try await ServerOptions.withClient(server: server, token: token, ca: serverCA, body)
    }
}
