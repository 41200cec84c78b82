import ArgumentParser
import BulwarkAgent
import ChunkFormat
import Foundation
import Logging
import ServiceLifecycle

/// `bulwark-agent run`: the agent's daemon.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the agent: report this host's VMs and run the server's backup tasks.",
        discussion: """
            Reads the identity `bulwark-agent enroll` wrote to the state directory and connects to the server with \
            its client certificate. It sends the host's inventory at start, after every libvirt lifecycle event and \
            every minute, and long-polls the server for tasks (syncs and consistency checks), reporting progress \
            and log lines by task id. When the server is away it retries with back-off; a running task keeps its \
            data until the server answers again. SIGTERM or SIGINT stop taking tasks and let running ones end. \
            Settings also come from the environment: BULWARK_AGENT_STATE_DIR, BULWARK_AGENT_LIBVIRT, \
            BULWARK_AGENT_SCRATCH_DIR.
            """)

    @Option(name: .long, help: "The libvirt URI of this host (default: $BULWARK_AGENT_LIBVIRT or qemu:///system).")
    var libvirt: String?

    @Option(name: .long, help: "The agent's state directory (default: $BULWARK_AGENT_STATE_DIR or /var/lib/bulwark-agent).")
    var stateDir: String?

    @Option(name: .long, help: "Where backup jobs put scratch files and NBD sockets (default: $BULWARK_AGENT_SCRATCH_DIR or STATE-DIR/scratch).")
    var scratchDir: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A folder restores may write under (repeatable); without it, restores may write anywhere on this host.",
            discussion: "A restore to a new VM or an item-level copy onto this host whose --path is not under one of these folders is refused before anything is written."))
    var restoreRoot: [String] = []

    @Option(name: .long, help: "How many tasks run at once (1-8).")
    var maxTasks = 2

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        guard (1...8).contains(maxTasks) else {
            throw ValidationError("--max-tasks \(maxTasks): use a number from 1 to 8")
        }
        do {
            try TaskCheck.validateRestoreRoots(restoreRoot)
        } catch {
            throw ValidationError(error.message)
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level '\(logLevel)': use trace, debug, info, notice, warning, error or critical")
        }
    }

    func run() async throws {
        ChunkMemory.keepFreedBuffers()
        let environment = ProcessInfo.processInfo.environment
        let state = stateDir ?? environment["BULWARK_AGENT_STATE_DIR"] ?? AgentIdentity.defaultStateDirectory
        var logger = Logger(label: "bulwark-agent")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let identity: AgentIdentity
        do {
            identity = try AgentIdentity.load(from: state)
        } catch {
            FileHandle.standardError.write(Data("bulwark-agent: \(error)\n".utf8))
            throw ExitCode(78)
        }
        let configuration = AgentService.Configuration(
            identity: identity, libvirtURI: libvirt ?? environment["BULWARK_AGENT_LIBVIRT"] ?? "qemu:///system",
            scratchDirectory: scratchDir ?? environment["BULWARK_AGENT_SCRATCH_DIR"] ?? "\(state)/scratch",
            fingerprintDirectory: "\(state)/fingerprints", maximumTasks: maxTasks, restoreRoots: restoreRoot,
            stateDirectory: state)
        let service = AgentService(configuration: configuration, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as AgentError {
            FileHandle.standardError.write(Data("bulwark-agent: \(error)\n".utf8))
            throw ExitCode(error.code == .libvirt ? 69 : 1)
        }
    }
}
