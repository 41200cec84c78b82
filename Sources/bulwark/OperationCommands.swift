import ArgumentParser
import BulwarkAPI
import BulwarkClient
import BulwarkCore
import Foundation

/// `bulwark jobs`.
struct Jobs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List jobs, newest first.")
    @Flag(name: .long, help: "Only queued or running jobs.") var running = false
    @Option(name: .long, help: "Only jobs of this VM (HOST/NAME, UUID or NAME).") var vm: String?
    @Option(name: .long, help: "Only jobs of this protection group.") var group: String?
    @Option(name: .long, help: "Only jobs in these states, comma-separated: \(JobState.allCases.map(\.rawValue).joined(separator: ", ")).")
    var state: String?
    @Flag(name: .long, help: "Print JSON.") var json = false
    @OptionGroup var server: ServerOptions

    func validate() throws {
        for name in (state ?? "").split(separator: ",") where JobState(rawValue: String(name)) == nil {
            throw ValidationError(
                "--state '\(name)' is not a job state; use \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        var query: [String] = []
        if running { query.append("running=true") }
        if let vm { query.append("vm=\(vm.queryEscaped)") }
        if let group { query.append("group=\(group.queryEscaped)") }
        if let state { query.append("state=\(state.queryEscaped)") }
        let path = "/v1/jobs" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        let jobs: [JobView] = try await server.withClient { client throws(ClientError) in try await client.get(path) }
        if json { return try printJSON(jobs) }
        if jobs.isEmpty { return print("no jobs") }
        printTable(
            ["ID", "KIND", "SUBJECT", "STATE", "PHASE", "CREATED"],
            jobs.map { [$0.id, $0.kind, $0.subject, $0.state.rawValue, $0.phase?.rawValue ?? "-", $0.createdAt.formatted(.iso8601)] })
    }
}

/// `bulwark job show|cancel`.
struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job", abstract: "Show or cancel one job.", subcommands: [Show.self, Cancel.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a job and its log.",
            discussion: """
                With --follow the command prints log lines as they arrive (and a progress bar on a terminal) until \
                the job ends, then exits 0 when it succeeded and 1 when it failed or was cancelled.
                """)
        @Argument(help: "The job's id.") var id: String
        @Flag(name: .long, help: "Follow the job until it ends.") var follow = false
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            if follow {
                let job = try await server.withClient { client throws(ClientError) in
                    try await JobWatcher(client: client, json: json).follow(id)
                }
                if json { try printJSON(job) } else { print(JobWatcher.summary(job)) }
                if JobWatcher.exitCode(job) != 0 { throw ExitCode(JobWatcher.exitCode(job)) }
                return
            }
            let job: JobView = try await server.withClient { client throws(ClientError) in
                try await client.get("/v1/jobs/\(id.pathEscaped)")
            }
            if json { return try printJSON(job) }
            print("job       \(job.id)")
            print("kind      \(job.kind) of \(job.subject)")
            print("state     \(job.state.rawValue)\(job.phase.map { " (\($0.rawValue))" } ?? "")")
            if job.state == .queued, let start = job.startAt { print("starts    \(start.formatted(.iso8601))") }
            if let attempt = job.attempt, attempt > 1 {
                print("attempt   \(attempt)\(job.retryOf.map { ", retrying job \($0)" } ?? "")")
            }
            if let point = job.recoveryPoint { print("point     \(point)") }
            if let bytes = job.bytes {
                print("bytes     \(ByteCount.approximate(bytes.bytesScanned)) of \(ByteCount.approximate(bytes.bytesTotal)) scanned, "
                    + "\(ByteCount.approximate(bytes.bytesSent)) sent")
            }
            if let error = job.error { print("error     \(error)") }
            for line in job.log ?? [] { print("\(line.time.formatted(.iso8601)) \(line.level) \(line.message)") }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a queued or running job.")
        @Argument(help: "The job's id.") var id: String
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let job: JobView = try await server.withClient { client throws(ClientError) in
                try await client.post("/v1/jobs/\(id.pathEscaped)/cancel", [String: String]())
            }
            print("job \(job.id) is \(job.state.rawValue)")
        }
    }
}

/// `bulwark alerts`.
struct Alerts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List open alerts.")
    @Flag(name: .long, help: "Include resolved alerts.") var all = false
    @Flag(name: .long, help: "Print JSON.") var json = false
    @OptionGroup var server: ServerOptions

    func run() async throws {
        let path = "/v1/alerts" + (all ? "?all=true" : "")
        let alerts: [AlertView] = try await server.withClient { client throws(ClientError) in try await client.get(path) }
        if json { return try printJSON(alerts) }
        if alerts.isEmpty { return print("no open alerts") }
        printTable(
            ["SEVERITY", "KIND", "SUBJECT", "RAISED", "MESSAGE"],
            alerts.map { [$0.severity, $0.kind, $0.subject, $0.raisedAt.formatted(.iso8601), $0.message] })
    }
}

/// `bulwark agent ...`.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "Enroll and manage protection agents (KVM hosts).",
        subcommands: [Token.self, List.self, Show.self, Remove.self])

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a one-time enrollment token for the agent of one host.",
            discussion: """
                Prints the token on stdout and, on stderr, the command to run on the KVM host. The token reads \
                SECRET.CA-FINGERPRINT: the agent trusts the server only if the server's CA has that fingerprint. \
                It enrolls the host named by --host and no other, once, until it expires. A host that is enrolled \
                already can only get a new certificate with a --reenroll token (the old certificate then stops \
                working, and an agent-reenrolled alert says so). The printed command names the address this \
                command reached the server at; change it if the KVM host reaches the server at another address.

                Exit codes: 0 made; 1 refused (the host is enrolled already without --reenroll, or is not \
                enrolled with it); 65 bad input (host name, --expires).
                """)
        @Option(name: .long, help: "The host name the token enrolls (the agent's --name, by default its host name).")
        var host: String
        @Flag(name: .long, help: "Replace the certificate of an enrolled host (the agent enrolls again with --force).")
        var reenroll = false
        @Option(name: .long, help: "How long the token is valid: 5m to 30d (default 24h).") var expires: String?
        @Flag(name: .long, help: "Print JSON ({token, host, reenroll, expiresAt, enrollCommand}).") var json = false
        @OptionGroup var server: ServerOptions

        struct Output: Encodable {
            var token: String
            var host: String
            var reenroll: Bool
            var expiresAt: Date
            var enrollCommand: String
        }

        func run() async throws {
            let request = EnrollmentTokenRequest(host: host, reenroll: reenroll ? true : nil, expires: expires)
            let (token, url): (EnrollmentTokenView, URL) = try await server.withClient { client throws(ClientError) in
                (try await client.post("/v1/agents/tokens", request), client.configuration.serverURL)
            }
            let server = url.absoluteString.hasSuffix("/") ? String(url.absoluteString.dropLast()) : url.absoluteString
            let command = "bulwark-agent enroll --server \(server) --name \(host) --token \(token.token)"
                + (reenroll ? " --force" : "")
            if json {
                try printJSON(
                    Output(token: token.token, host: host, reenroll: reenroll, expiresAt: token.expiresAt, enrollCommand: command))
            } else {
                // Only the token goes to stdout, so `TOKEN=$(bulwark agent token --host H)` keeps working.
                print(token.token)
                printError("valid once, for host '\(host)' only, until \(token.expiresAt.formatted(.iso8601)); on that host, run:")
                printError("  \(command)")
                if let host = url.host, ["127.0.0.1", "localhost", "::1"].contains(host) {
                    printError("(\(host) is this machine: put the address the KVM host reaches this server at)")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List enrolled agents.")
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let agents: [AgentView] = try await server.withClient { client throws(ClientError) in try await client.get("/v1/agents") }
            if json { return try printJSON(agents) }
            if agents.isEmpty { return print("no agents; make a token with: bulwark agent token --host NAME") }
            printTable(
                ["HOST", "VMS", "ENROLLED", "LAST SEEN"],
                agents.map { [$0.host, "\($0.vmCount)", $0.enrolledAt.formatted(.iso8601), $0.lastSeenAt?.formatted(.iso8601) ?? "never"] })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one agent.")
        @Argument(help: "The agent's host name.") var host: String
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let agent: AgentView = try await server.withClient { client throws(ClientError) in
                try await client.get("/v1/agents/\(host.pathEscaped)")
            }
            try printJSON(agent)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget an agent; its VMs' recovery points stay.")
        @Argument(help: "The agent's host name.") var host: String
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let agent: AgentView = try await server.withClient { client throws(ClientError) in
                try await client.delete("/v1/agents/\(host.pathEscaped)")
            }
            print("removed agent \(agent.host)")
        }
    }
}
