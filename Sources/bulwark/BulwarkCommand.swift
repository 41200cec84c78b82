import ArgumentParser
import BulwarkCore

/// `bulwark`: the admin CLI.
@main
struct BulwarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bulwark",
        abstract: "Administer a Bulwark backup server.",
        discussion: """
            bulwark talks to bulwarkd over HTTPS. It takes the server from --server or BULWARK_SERVER, the admin \
            token from --token or BULWARK_TOKEN, and the CA to trust from --ca or BULWARK_CA; with none of these \
            it uses the local server whose data directory is BULWARK_DATA_DIR (default /var/lib/bulwark).

            Exit codes: 0 success; 1 the server refused the request; 2 bad command line; 3 not found; \
            4 wrong or missing admin token; 69 server unreachable or feature not available; 78 bad configuration.
            """,
        version: BulwarkVersion.current,
        subcommands: [
            Status.self, DatastoreCommand.self, AgentCommand.self, VMCommand.self, GroupCommand.self, Backup.self, Seed.self,
            Check.self, Points.self, Browse.self, Recover.self, ExportCommand.self, Jobs.self, JobCommand.self, Verify.self, GC.self, Alerts.self,
        ])
}
