import ArgumentParser
import BulwarkCore

/// `bulwark`: the admin CLI.
@main
struct BulwarkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bulwark",
        abstract: "Administer a Bulwark backup server.",
        discussion: """
            bulwark manages datastores, agents, protection groups, backups, consistency checks and recovery on a \
            Bulwark server. It talks to bulwarkd over its HTTPS API, which arrives with the server issue (#3); \
            this build only reports its version.
            """,
        version: BulwarkVersion.current)

    func run() throws {
        printError("bulwark \(BulwarkVersion.current): no server API exists yet (issue #3); nothing to administer.")
        throw ExitCode(69)
    }
}
