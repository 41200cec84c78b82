import BulwarkAPI
import BulwarkCore
import Foundation
import Libvirt
public import Logging
public import ServiceLifecycle

/// The agent's daemon: keeps the server's inventory of this host current and runs the tasks the server hands out.
///
/// One `Service` for `bulwark-agent run`: on SIGTERM it stops taking tasks, lets running ones end, and returns.
public struct AgentService: Service, CustomStringConvertible {
    /// What ServiceLifecycle logs for the service: never the configuration (it holds the agent's key).
    public var description: String { "AgentService(\(configuration.identity))" }

    public struct Configuration: Sendable, CustomStringConvertible {
        public var description: String {
            "\(identity), libvirt \(libvirtURI), scratch \(scratchDirectory), \(maximumTasks) tasks at once"
        }

        public var identity: AgentIdentity
        public var libvirtURI: String
        public var scratchDirectory: String
        /// Where syncs keep their chunk fingerprints (`ChunkFingerprints`); `nil` keeps none.
        public var fingerprintDirectory: String?
        /// Tasks run at once on this host.
        public var maximumTasks: Int
        /// How often the inventory is sent even when libvirt reported no event.
        public var inventoryInterval: Duration
        /// The folders restores may write under (`--restore-root`); empty: anywhere.
        public var restoreRoots: [String]
        /// Where a renewed identity is saved (the state directory); nil: renewals are not saved.
        public var stateDirectory: String?

        public init(
            identity: AgentIdentity, libvirtURI: String = "qemu:///system",
            scratchDirectory: String = "/var/lib/bulwark-agent/scratch", fingerprintDirectory: String? = nil,
            maximumTasks: Int = 2, inventoryInterval: Duration = .seconds(60), restoreRoots: [String] = [],
            stateDirectory: String? = nil
        ) {
            self.restoreRoots = restoreRoots
            self.stateDirectory = stateDirectory
            self.identity = identity
            self.fingerprintDirectory = fingerprintDirectory
            self.libvirtURI = libvirtURI
            self.scratchDirectory = scratchDirectory
            self.maximumTasks = maximumTasks
            self.inventoryInterval = inventoryInterval
        }
    }

    public let configuration: Configuration
    public let logger: Logger

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "host"] = "\(configuration.identity.host)"
        self.logger = logger
    }

    public func run() async throws {
        let server = try ServerConnection(identity: configuration.identity)
        let hypervisor: Hypervisor
        do {
            hypervisor = try await Hypervisor.open(uri: configuration.libvirtURI)
        } catch {
            await server.shutdown()
            throw AgentError(
                .libvirt, "cannot connect to libvirt at \(configuration.libvirtURI): \(error.message); is libvirtd running?",
                cause: error)
        }
        logger.info(
            "bulwark-agent running",
            metadata: ["server": "\(configuration.identity.serverURL)", "libvirt": "\(configuration.libvirtURI)"])
        // No task runs yet: whatever is in the scratch folder is left from a run that died. A new VM's restore
        // that died first loses its half-written files, unless its domain got defined.
        let partial = PartialRestores(scratchDirectory: configuration.scratchDirectory)
        let definedUUIDs = Set((try? await hypervisor.run { try $0.listDomains().map(\.uuid) }) ?? [])
        partial.cleanUp(defined: { definedUUIDs.contains($0) }, logger: logger)
        if let leftovers = try? FileManager.default.contentsOfDirectory(atPath: configuration.scratchDirectory) {
            for name in leftovers { try? FileManager.default.removeItem(atPath: "\(configuration.scratchDirectory)/\(name)") }
        }
        let fingerprints = openFingerprints()
        let tasks = TaskTracker()
        let vmLocks = VMLocks()
        let source = HypervisorSource(uri: configuration.libvirtURI, connected: hypervisor)
        await withDiscardingTaskGroup { group in
            group.addTask { await reportInventory(source: source, server: server) }
            group.addTask { await renewCertificate(server: server, tasks: tasks) }
            group.addTask {
                await takeTasks(
                    source: source, server: server, tasks: tasks, vmLocks: vmLocks, fingerprints: fingerprints)
            }
            await withGracefulShutdownHandler {
                // Runs until shutdown; the loops above end on cancellation.
                try? await gracefulShutdown()
            } onGracefulShutdown: {}
            logger.info("shutting down: waiting for running tasks to end")
            group.cancelAll()
        }
        await tasks.waitForAll()
        await server.shutdown()
        logger.info("bulwark-agent stopped")
    }

    /// Sends the inventory now, after every lifecycle event (coalesced), and at least every interval.
    ///
    /// When libvirtd went away the next report opens a new connection and subscribes to its events again.
    func reportInventory(source: HypervisorSource, server: ServerConnection) async {
        let (wake, wakeContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        func forward(_ hypervisor: Hypervisor) -> Task<Void, Never> {
            Task {
                guard let events = try? await hypervisor.lifecycleEvents() else { return }
                for await _ in events { wakeContinuation.yield() }
            }
        }
        var subscribed: Hypervisor?
        var forwarder: Task<Void, Never>?
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: configuration.inventoryInterval)
                wakeContinuation.yield()
            }
        }
        defer {
            forwarder?.cancel()
            ticker.cancel()
        }
        wakeContinuation.yield()
        var delay = Duration.seconds(1)
        for await _ in wake {
            if Task.isCancelled { break }
            // Let a burst of events (a migration, a restart) settle into one report.
            try? await Task.sleep(for: .milliseconds(500))
            do {
                let hypervisor = try await source.get()
                if subscribed !== hypervisor {
                    if subscribed != nil { logger.notice("reconnected to libvirt at \(configuration.libvirtURI)") }
                    forwarder?.cancel()
                    forwarder = forward(hypervisor)
                    subscribed = hypervisor
                }
                let report = try await InventoryCollector.collect(hypervisor)
                let result = try await server.json(
                    .POST, "/v1/agent/inventory", body: report, as: AgentInventoryResult.self)
                logger.debug(
                    "inventory sent", metadata: ["vms": "\(report.vms.count)", "added": "\(result?.added ?? 0)"])
                delay = .seconds(1)
            } catch {
                logger.warning("cannot send the inventory: \(error); retrying in \(delay)")
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(60))
                wakeContinuation.yield()
            }
        }
    }

    /// The fingerprint folder, when configured and usable: without it, syncs still work, hashing every chunk.
    func openFingerprints() -> ChunkFingerprints? {
        guard let directory = configuration.fingerprintDirectory else { return nil }
        do {
            return try ChunkFingerprints.open(directory: directory)
        } catch {
            logger.warning("\(error); syncs hash every chunk they read with SHA-256")
            return nil
        }
    }

    /// Renews the agent's certificate when it is within ``CertificateRenewal/window`` of expiring, looking every
    /// hour, and only while no task runs: the old certificate stops working at once, and a task's calls under way
    /// would be refused.
    func renewCertificate(server: ServerConnection, tasks: TaskTracker) async {
        while !Task.isCancelled {
            if CertificateRenewal.isDue(server.identity), await tasks.count == 0 {
                do {
                    let renewed = try await CertificateRenewal.renew(over: server)
                    if let directory = configuration.stateDirectory {
                        try await runOffCooperativePool { () throws(AgentError) in try renewed.save(to: directory) }
                    }
                    logger.notice("renewed this agent's certificate")
                } catch {
                    logger.error("cannot renew this agent's certificate (it expires soon; the server raises an alert): \(error)")
                }
            }
            try? await Task.sleep(for: .seconds(3600))
        }
    }

    /// Long-polls the server for tasks and runs them, at most `maximumTasks` at once.
    func takeTasks(
        source: HypervisorSource, server: ServerConnection, tasks: TaskTracker, vmLocks: VMLocks,
        fingerprints: ChunkFingerprints?
    ) async {
        var delay = Duration.seconds(1)
        while !Task.isCancelled {
            if await tasks.count >= configuration.maximumTasks {
                await tasks.waitForOne()
                continue
            }
            let running = await tasks.ids.joined(separator: ",")
            do {
                let task = try await server.json(
                    .GET, "/v1/agent/tasks/next?wait=25&running=\(running)", as: AgentTask.self,
                    timeout: .seconds(40))
                delay = .seconds(1)
                guard let task else { continue }
                var taskLogger = logger
                taskLogger[metadataKey: "job"] = "\(task.id)"
                do {
                    try TaskCheck.validate(task, restoreRoots: configuration.restoreRoots)
                } catch {
                    taskLogger.error("task refused: \(error)")
                    // A task id that is no job id cannot be reported on; the server fails it as orphaned.
                    if (try? JobID(parsing: task.id)) != nil {
                        await SyncRunner.finish(taskID: task.id, failure: error, server: server, logger: taskLogger)
                    }
                    continue
                }
                taskLogger.info("task received", metadata: ["vm": "\(task.vmName)", "command": "\(task.command.rawValue)"])
                let (host, scratch, taskLog) = (configuration.identity.host, configuration.scratchDirectory, taskLogger)
                await tasks.start(id: task.id) {
                    let hypervisor: Hypervisor
                    do {
                        hypervisor = try await source.get()
                    } catch {
                        await SyncRunner.finish(taskID: task.id, failure: error, server: server, logger: taskLog)
                        return
                    }
                    if task.command == .restore {
                        guard let restore = task.restore else {
                            await SyncRunner.finish(
                                taskID: task.id, failure: AgentError(.invalid, "the restore task says nothing to restore"),
                                server: server, logger: taskLog)
                            return
                        }
                        await RestoreRunner(
                            task: task, restore: restore, host: host, hypervisor: hypervisor, server: server,
                            scratchDirectory: scratch, logger: taskLog, vmLocks: vmLocks
                        ).run()
                        return
                    }
                    await SyncRunner(
                        task: task, host: host, hypervisor: hypervisor, server: server, scratchDirectory: scratch,
                        logger: taskLog, vmLocks: vmLocks, fingerprints: fingerprints
                    ).run()
                }
            } catch {
                if Task.isCancelled { break }
                logger.warning("cannot get tasks from the server: \(error); retrying in \(delay)")
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(30))
            }
        }
    }
}

/// The tasks this agent runs, by id: what the next poll tells the server it still works on.
actor TaskTracker {
    private var running: [String: Task<Void, Never>] = [:]
    private var waiters: [CheckedContinuation<Void, Never>] = []

    var count: Int { running.count }
    var ids: [String] { running.keys.sorted() }

    /// Runs `body` as an unstructured task, so a shutdown lets it finish (and report) rather than cutting it off.
    func start(id: String, _ body: @escaping @Sendable () async -> Void) {
        running[id] = Task {
            await body()
            self.finished(id)
        }
    }

    private func finished(_ id: String) {
        running[id] = nil
        let waiting = waiters
        waiters.removeAll()
        for waiter in waiting { waiter.resume() }
    }

    func waitForOne() async {
        guard !running.isEmpty else { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func waitForAll() async {
        while !running.isEmpty { await waitForOne() }
    }
}
