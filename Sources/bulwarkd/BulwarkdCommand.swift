import ArgumentParser
import BulwarkCore
import BulwarkStore
import BulwarkServer
import Logging
import ServiceLifecycle

/// `bulwarkd`: the Bulwark backup server.
@main
struct BulwarkdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bulwarkd",
        abstract: "The Bulwark backup server: catalog, datastores, scheduler and API.",
        discussion: """
            bulwarkd serves the admin CLI and the agents over HTTPS. On first start it creates, in its data \
            directory: a certificate authority (ca.pem, ca-key.pem), the server's TLS certificate, the admin \
            token for local use (admin.token, mode 0600) and the file `address` with the URL clients use. \
            SIGTERM or SIGINT stop it cleanly.
            """,
        version: BulwarkVersion.current)

    @Option(name: .long, help: "Directory for the catalog, certificates and admin token.")
    var dataDir = "/var/lib/bulwark"

    @Option(name: .long, help: "Address to listen on: HOST:PORT, [IPV6]:PORT, or :PORT for all interfaces (port 0 picks one).")
    var listen = "127.0.0.1:9443"

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(name: .long, help: "Seconds between the scheduler's passes over the protection groups (1-3600).")
    var schedulerInterval = 30

    @Flag(name: .long, help: "Run no scheduler, retention or alert monitor: syncs, checks and express fulls run only when an admin asks.")
    var noScheduler = false

    @Option(name: .long, help: "Post each new alert as JSON to this http(s) URL.")
    var alertWebhook: String?

    @Option(name: .long, help: "At most this many syncs and checks run at once on one host (1-64).")
    var maxJobsPerHost = 4

    @Option(name: .long, help: "At most this many syncs and checks write to one datastore at once (1-256).")
    var maxJobsPerDatastore = 8

    @Option(name: .long, help: "How many times a sync or check that failed for a passing reason (its agent restarted, bulwarkd stopped, a connection was lost) is tried again (0-10; 0 turns retries off).")
    var retries = 3

    @Option(name: .long, help: "The wait before the first retry, e.g. 60s or 5m; each further retry waits four times longer, at most 1h.")
    var retryDelay = "60s"

    @Flag(name: .long, help: "Verify every new recovery point (read back each chunk and check its digest) soon after its commit.")
    var verifyNew = false

    @Option(name: .long, help: "Verify each recovery point again once its last verify (or its commit) is this old, e.g. 7d; by default points are verified only by `bulwark verify` (and --verify-new).")
    var reverifyAfter: String?

    @Option(name: .long, help: "How often a consistent copy of the catalog is written into every datastore (its .catalog folder, or the bucket), e.g. 1h or 15m; 'off' turns it off. A server rebuilt after losing its data directory reads it from there.")
    var catalogCopyInterval = "1h"

    func catalogCopies() throws -> Duration? {
        if catalogCopyInterval == "off" { return nil }
        let span = try TimeSpan(parsing: catalogCopyInterval, field: "--catalog-copy-interval")
        return .seconds(span.seconds)
    }

    func validate() throws {
        do {
            _ = try ServerConfiguration.parseListen(listen)
        } catch {
            throw ValidationError("\(error)")
        }
        if let alertWebhook {
            do {
                _ = try ServerConfiguration.parseWebhook(alertWebhook)
            } catch {
                throw ValidationError("\(error)")
            }
        }
        guard (1...64).contains(maxJobsPerHost) else {
            throw ValidationError("--max-jobs-per-host \(maxJobsPerHost): give 1 to 64")
        }
        guard (1...256).contains(maxJobsPerDatastore) else {
            throw ValidationError("--max-jobs-per-datastore \(maxJobsPerDatastore): give 1 to 256")
        }
        guard (1...3600).contains(schedulerInterval) else {
            throw ValidationError("--scheduler-interval \(schedulerInterval): give 1 to 3600 seconds")
        }
        do {
            _ = try retryPolicy()
            _ = try reverifyAfter.map { try TimeSpan(parsing: $0, field: "--reverify-after") }
            _ = try catalogCopies()
        } catch {
            throw ValidationError("\(error)")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level '\(logLevel)': use trace, debug, info, notice, warning, error or critical")
        }
    }

    func retryPolicy() throws -> RetryPolicy {
        try RetryPolicy(retries: retries, firstDelay: try TimeSpan(parsing: retryDelay, field: "--retry-delay").seconds)
    }

    func run() async throws {
        ChunkMemory.keepFreedBuffers()
        var logger = Logger(label: "bulwarkd")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let (host, port) = try ServerConfiguration.parseListen(listen)
        var configuration = ServerConfiguration(
            dataDirectory: dataDir, host: host, port: port,
            schedulerInterval: noScheduler ? nil : .seconds(schedulerInterval),
            alertWebhook: try alertWebhook.map(ServerConfiguration.parseWebhook), maximumJobsPerHost: maxJobsPerHost,
            maximumJobsPerDatastore: maxJobsPerDatastore, retry: try retryPolicy(), verifyNew: verifyNew,
            reverifyAfter: try reverifyAfter.map { try TimeSpan(parsing: $0, field: "--reverify-after") })
        configuration.catalogCopyInterval = try catalogCopies()
        let services: [any Service]
        do {
            services = try await BulwarkServerApplication.make(configuration: configuration, logger: logger)
        } catch {
            printError("bulwarkd: \(error)")
            throw ExitCode(78)  // EX_CONFIG
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
