import ArgumentParser
import BulwarkCatalog
import BulwarkCore
import BulwarkServer
import Foundation
import Logging

/// Times the catalog queries behind `bulwark points VM` and `bulwark vm list` on a catalog of realistic size.
struct CatalogBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Fill a catalog with VMs and recovery points, then time the listing queries (JSON to stdout).")

    @Option(help: "VMs in the inventory.") var vms = 800
    @Option(help: "Recovery points of one VM.") var points = 10_000
    @Option(help: "Repetitions of each query; the median is reported.") var repeats = 7

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bulwark-catalog-bench-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let catalog = try await Catalog.open(path: directory.appendingPathComponent("catalog.sqlite").path)
        let store = try ResourceName("bench")
        try await catalog.addDatastore(name: store, path: try AbsolutePath(parsing: directory.appendingPathComponent("ds").path))
        let hosts = 8
        var first: UUID?
        for host in 0..<hosts {
            _ = try await catalog.upsertAgent(
                AgentRegistration(host: "kvm\(host)", certificateFingerprint: "fp\(host)", certificatePEM: "pem"))
            let reported = (0..<(vms / hosts)).map { index in
                ReportedVM(
                    uuid: UUID(), name: "vm\(index)", state: .running, guestAgentAnswering: true,
                    disks: [VMDisk(target: "vda", format: "qcow2", capacityBytes: 1 << 34, path: "/var/lib/vm\(index).qcow2")])
            }
            if first == nil { first = reported.first?.uuid }
            _ = try await catalog.replaceInventory(host: "kvm\(host)", vms: reported)
        }
        guard let vm = first else { throw ValidationError("--vms must be at least \(hosts)") }
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        let rows = (0..<points).map { index in
            NewRecoveryPoint(
                vmUUID: vm, group: nil, datastore: store, createdAt: start.addingTimeInterval(Double(index) * 900),
                syncKind: .incremental, consistency: .crashConsistent, logicalBytes: 1 << 34, storedBytes: 1 << 20,
                transferredBytes: 1 << 20, retainUntil: start.addingTimeInterval(Double(index) * 900 + 86_400 * 30))
        }
        try await catalog.insertRecoveryPoints(rows)

        let pointsSeconds = try await median { _ = try await catalog.recoveryPoints(vm: vm) }
        let vmsSeconds = try await median { _ = try await catalog.vms() }
        // After the one VM's many points, so that every VM's newest point is the one the scheduler bench adds.
        let later = start.addingTimeInterval(Double(points) * 900)
        let (idleSeconds, dueSeconds) = try await schedulerPasses(catalog, store: store, hosts: hosts, start: later)
        print(
            #"{"points": \#(points), "pointsListSeconds": \#(pointsSeconds), "vms": \#(vms), "vmListSeconds": \#(vmsSeconds), "#
                + #""schedulerIdlePassSeconds": \#(idleSeconds), "schedulerDuePassSeconds": \#(dueSeconds)}"#)
    }

    /// Every VM protected (8 groups, a point each): one scheduler pass when nothing is due (median of `repeats`),
    /// and the pass that finds every VM due and queues a sync for each, whose queue must come out in order.
    func schedulerPasses(
        _ catalog: Catalog, store: ResourceName, hosts: Int, start: Date
    ) async throws -> (idle: Double, due: Double) {
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let all = try await catalog.vms()
        for group in 0..<8 {
            let name = try ResourceName("group\(group)")
            let policy = try ProtectionPolicy(syncFrequency: .hourly, recoveryPointTimes: [try TimeOfDay(hour: 3, minute: 0)], expressFullTimes: [])
            _ = try await catalog.createGroup(name: name, datastore: store, policy: policy)
            let members = all.enumerated().filter { $0.offset % 8 == group }.map { VMReference.uuid($0.element.uuid) }
            try await catalog.addMembers(group: name, vms: members, now: start)
        }
        let pointTime = start.addingTimeInterval(3600)
        try await catalog.insertRecoveryPoints(all.map { vm in
            NewRecoveryPoint(
                vmUUID: vm.uuid, group: nil, datastore: store, createdAt: pointTime, syncKind: .full,
                consistency: .crashConsistent, logicalBytes: 1 << 34, storedBytes: 1 << 30, transferredBytes: 1 << 30,
                retainUntil: pointTime.addingTimeInterval(86_400 * 30))
        })
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let scheduler = Scheduler(catalog: catalog, calendar: utc, logger: logger)
        let idle = try await median {
            let queued = try await scheduler.tick(now: pointTime.addingTimeInterval(600))
            guard queued.isEmpty else { throw ValidationError("an idle pass queued \(queued.count) jobs") }
        }
        let clock = ContinuousClock()
        var queued: [JobInfo] = []
        let elapsed = try await clock.measure { queued = try await scheduler.tick(now: pointTime.addingTimeInterval(3700)) }
        guard queued.count == all.count else { throw ValidationError("the due pass queued \(queued.count) of \(all.count)") }
        // The queue is served oldest first: the claims of one host come out in the order the pass queued them.
        let host = "kvm0"
        let expected = queued.filter { job in all.contains { $0.uuid == job.vmUUID && $0.host == host } }.map(\.id)
        var claimed: [JobID] = []
        while let task = try await catalog.claimTask(host: host, now: pointTime.addingTimeInterval(3700)) {
            claimed.append(task.job.id)
        }
        guard claimed == expected else { throw ValidationError("the job queue of \(host) came out of order") }
        return (idle, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    func median(_ body: () async throws -> Void) async throws -> Double {
        var times: [Double] = []
        let clock = ContinuousClock()
        for _ in 0..<repeats {
            let elapsed = try await clock.measure { try await body() }
            times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        return times.sorted()[times.count / 2]
    }
}
