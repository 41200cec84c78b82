import ArgumentParser
import BulwarkAgent
import BulwarkCore
import Foundation

/// `bulwark-agent enroll`: trades a one-time token for this host's client certificate.
struct Enroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enroll this host with a Bulwark server.",
        discussion: """
            Make a token on the server with `bulwark agent token`; it prints the command to run here. The token \
            reads SECRET.CA-FINGERPRINT: the agent fetches the server's CA certificate, refuses a server whose CA \
            has another fingerprint, and only then sends the token, over TLS that trusts exactly that CA. The \
            server signs a certificate for a key made here (the key never leaves the host); the certificate, key \
            and CA are saved in the state directory, which `bulwark-agent run` reads.

            Exit codes: 0 enrolled; 1 the server refused (unknown, used or expired token, rejected host name); \
            69 the server could not be reached; 78 bad input or configuration (malformed token, a server whose CA \
            does not match the token, already enrolled without --force, state directory not writable).
            """)

    @Option(name: .long, help: "The server's URL, e.g. https://backup1:9443.")
    var server: String

    @Option(name: .long, help: "The enrollment token `bulwark agent token` printed (SECRET.CA-FINGERPRINT).")
    var token: String

    @Option(name: .long, help: "The name this host is known by on the server (default: the machine's host name).")
    var name: String?

    @Option(
        name: .long,
        help: "Where the identity is saved (default: $BULWARK_AGENT_STATE_DIR or /var/lib/bulwark-agent).")
    var stateDir: String?

    @Flag(name: .long, help: "Replace an identity already in the state directory (enroll again).")
    var force = false

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let state = stateDir ?? environment["BULWARK_AGENT_STATE_DIR"] ?? AgentIdentity.defaultStateDirectory
        do {
            let enrollment = try Enrollment(
                server: server, token: token, host: name, stateDirectory: state, replacesExisting: force)
            let identity = try await enrollment.run()
            let server = identity.serverURL.absoluteString
            print("enrolled as '\(identity.host)' with \(server); identity saved in \(state)")
            print("start the agent: systemctl enable --now bulwark-agent (or: bulwark-agent run --state-dir \(state))")
        } catch {
            printError("bulwark-agent: \(error)")
            throw ExitCode(error.exitCode)
        }
    }
}
