import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import Crypto
import Foundation
import GuestFiles
import Hummingbird
import HummingbirdTLS
public import Logging
import NIOCore
import NIOSSL
public import ServiceLifecycle

/// Builds the running parts of `bulwarkd` from its configuration.
public enum BulwarkServerApplication {
    /// Prepares the data directory (CA, certificate, admin token) and returns the running parts as `Service`s: the
    /// HTTPS API, and the scheduler, retention (pruning, then garbage collection), the alert monitor and, when
    /// asked for, verification, all when the configuration has a scheduler interval.
    ///
    /// `onRunning` receives the URL clients use once the server listens; it is also written to the data directory.
    public static func make(
        configuration: ServerConfiguration, logger: Logger,
        onRunning: @escaping @Sendable (String) async -> Void = { _ in }
    ) async throws -> [any Service] {
        let directory = ServerDataDirectory(path: configuration.dataDirectory)
        try directory.prepare()
        let catalog: Catalog
        do {
            catalog = try await Catalog.open(path: directory.catalogPath)
        } catch {
            throw ServerError(.dataDirectory, "cannot open the catalog \(directory.catalogPath): \(error)", cause: error)
        }
        let ca = try directory.loadOrCreateCA()
        let adminToken = try directory.loadOrCreateAdminToken()
        try await registerAdminToken(adminToken, in: catalog)
        let certificate = try directory.issueServerCertificate(ca: ca, host: configuration.host)
        let tls = try tlsConfiguration(
            certificatePEM: certificate.certificatePEM, keyPEM: certificate.keyPEM, caPEM: try ca.certificatePEM())
        let identity = try await catalog.serverIdentity()
        // Nothing can finish a job the last run left running: its agent's calls would be refused anyway.
        let interrupted = try await catalog.failInterruptedJobs(retry: configuration.retry)
        if !interrupted.isEmpty {
            logger.warning(
                "jobs that were running when bulwarkd stopped are marked failed",
                metadata: ["jobs": "\(interrupted.map(\.id.description).joined(separator: ", "))"])
        }
        // In the background: a slow --notify URL must not hold up the start.
        Task { [logger] in await AgentRoutes.notifyFailedRestores(interrupted, catalog: catalog, logger: logger) }
        var datastoreLogger = logger
        datastoreLogger[metadataKey: "service"] = "datastores"
        let datastores = Datastores(catalog: catalog, logger: datastoreLogger)
        try await datastores.recoverStagedChunks()
        // Leases are held by readers of a running bulwarkd; none of the last run's reads goes on.
        try await catalog.clearPointLeases()
        // Points a crash left without their catalog row: reported now, collected after their grace period.
        Task { [logger] in await Reconciliation(catalog: catalog, datastores: datastores, logger: logger).run() }
        let startedAt = Date()

        let router = Router(context: BulwarkRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        EnrollmentRoutes(catalog: catalog, ca: ca).register(on: router)
        // A group of its own, so the admin token's middleware never sees agent calls (nor the reverse).
        let taskSignal = TaskSignal()
        AgentRoutes(
            catalog: catalog, datastores: datastores, ca: ca, uploads: TaskUploadLedger(), taskSignal: taskSignal,
            limits: JobLimits(
                perHost: configuration.maximumJobsPerHost, perDatastore: configuration.maximumJobsPerDatastore),
            retry: configuration.retry)
            .register(on: router.group("v1/agent").add(middleware: AgentAuthMiddleware(catalog: catalog)))
        let api = router.group("v1").add(middleware: AdminAuthMiddleware(catalog: catalog))
        api.get("status") { _, _ in
            ServerStatus(
                version: BulwarkVersion.current, serverID: identity.serverID.uuidString.lowercased(),
                startedAt: startedAt, datastores: try await catalog.datastores().count)
        }
        DatastoreRoutes(
            catalog: catalog, datastores: datastores, cacheRoot: directory.file("datastore-cache"),
            scratch: directory.file("tmp"), serverID: identity.serverID,
            heartbeatInterval: configuration.catalogCopyInterval
        ).register(on: api)
        var groupLogger = logger
        groupLogger[metadataKey: "service"] = "groups"
        GroupRoutes(catalog: catalog, datastores: datastores, taskSignal: taskSignal, logger: groupLogger).register(on: api)
        InventoryRoutes(catalog: catalog, stores: datastores).register(on: api)
        OperationRoutes(catalog: catalog).register(on: api)
        TaskRoutes(catalog: catalog, taskSignal: taskSignal).register(on: api)
        SeedRoutes(catalog: catalog, datastores: datastores).register(on: api)
        // Sockets of a run that ended are dead: clients get a clean "no such file" rather than a refused connect.
        let exportFolder = directory.file("exports")
        try? FileManager.default.removeItem(atPath: exportFolder)
        // libguestfs appliances' sockets: a bulwarkd that was killed with one running left its folder here.
        let guestfsFolder = directory.file("guestfs")
        try? FileManager.default.removeItem(atPath: guestfsFolder)
        var exportLogger = logger
        exportLogger[metadataKey: "service"] = "exports"
        let exports = PointExports(folder: exportFolder, catalog: catalog, datastores: datastores, logger: exportLogger)
        ExportRoutes(catalog: catalog, exports: exports).register(on: api)
        var recoveryLogger = logger
        recoveryLogger[metadataKey: "service"] = "recovery"
        // Item-level copies bulwarkd was making when it stopped: their jobs were failed above, so their files go.
        let partialCopies = PartialItemCopies(dataDirectory: directory)
        partialCopies.cleanUp(logger: recoveryLogger)
        RecoveryRoutes(
            catalog: catalog, taskSignal: taskSignal,
            items: ItemRecovery(
                catalog: catalog, exports: exports, browsers: PointBrowsers(
                    exports: exports,
                    sandbox: configuration.guestReader.map { .success($0) }
                        ?? Result { () throws(GuestFilesError) in try GuestReaderSandbox.located() }),
                partial: partialCopies,
                logger: recoveryLogger)
        ).register(on: api)

        let host = configuration.host
        let application = Application(
            router: router,
            server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "bulwarkd"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                let shownHost = host == "0.0.0.0" ? "127.0.0.1" : (host.contains(":") ? "[\(host)]" : host)
                let url = "https://\(shownHost):\(port)"
                do {
                    try directory.writeAddress(url)
                } catch {
                    logger.error("cannot publish the address in the data directory: \(error)")
                }
                logger.info("bulwarkd listening", metadata: ["url": "\(url)", "data-dir": "\(directory.path)"])
                await onRunning(url)
            },
            logger: logger)
        // Independent of the scheduler: a server that only runs what admins ask still leaves its datastores able to
        // describe themselves to a server rebuilt without its data directory.
        var copyLogger = logger
        copyLogger[metadataKey: "service"] = "catalog-copies"
        let copies: [any Service] = configuration.catalogCopyInterval.map {
            [
                CatalogCopies(
                    catalog: catalog, datastores: datastores, interval: $0, scratch: directory.file("tmp"),
                    serverID: identity.serverID, logger: copyLogger)
            ]
        } ?? []
        // First in the list, so the service group stops it last: every other part calls it until it stops.
        guard let interval = configuration.schedulerInterval else { return [datastores, application] + copies }
        var schedulerLogger = logger
        schedulerLogger[metadataKey: "service"] = "scheduler"
        var alertLogger = logger
        alertLogger[metadataKey: "service"] = "alerts"
        var retentionLogger = logger
        retentionLogger[metadataKey: "service"] = "retention"
        var verificationLogger = logger
        verificationLogger[metadataKey: "service"] = "verification"
        let verification = Verification(
            catalog: catalog, stores: datastores, interval: interval, newPoints: configuration.verifyNew,
            reverifyAfter: configuration.reverifyAfter, logger: verificationLogger)
        return [
            datastores,
            application,
            Scheduler(catalog: catalog, taskSignal: taskSignal, interval: interval, logger: schedulerLogger),
            // Retention is counted in days: an hourly pass prunes soon enough and costs nothing in between.
            Maintenance(
                catalog: catalog, datastores: datastores, interval: .seconds(3600), logger: retentionLogger),
            AlertMonitor(catalog: catalog, datastores: datastores, interval: interval, webhook: configuration.alertWebhook, logger: alertLogger),
        ] + (verification.isEnabled ? [verification] : []) + copies
    }

    /// TLS for every caller: admins and enrolling agents present no certificate; enrolled agents present one the CA
    /// signed, and a certificate from anyone else fails the handshake.
    static func tlsConfiguration(certificatePEM: String, keyPEM: String, caPEM: String) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .optionalVerification
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
        return configuration
    }
}

/// Makes the data directory's admin token the one `data-dir` token in the catalog: a token rotated by deleting
/// `admin.token` revokes the old one on this start.
private func registerAdminToken(_ token: String, in catalog: Catalog) async throws {
    guard let digest = TokenDigest(SHA256.hash(data: Data(token.utf8))) else { return }
    try await catalog.replaceAdminTokens(label: "data-dir", with: digest)
}
