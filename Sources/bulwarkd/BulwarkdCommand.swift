import ArgumentParser
import BulwarkCore

/// `bulwarkd`: the Bulwark backup server.
@main
struct BulwarkdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bulwarkd",
        abstract: "The Bulwark backup server: catalog, datastores, scheduler and API.",
        discussion: """
            bulwarkd keeps the catalog of protected virtual machines in SQLite, stores recovery points in \
            deduplicating datastores and serves the admin CLI and the agents over HTTPS. The server itself \
            arrives with the server issue (#3): this build only reports its version and refuses to start.
            """,
        version: BulwarkVersion.current)

    @Option(name: .long, help: "Directory for the catalog, certificates and admin token.")
    var dataDir = "/var/lib/bulwark"

    @Option(name: .long, help: "Address to listen on, HOST:PORT.")
    var listen = "127.0.0.1:9443"

    func run() throws {
        printError("bulwarkd \(BulwarkVersion.current): the server is not built yet (issue #3); nothing was started.")
        throw ExitCode(69)
    }
}
