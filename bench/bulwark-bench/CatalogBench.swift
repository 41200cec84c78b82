import ArgumentParser
import BulwarkCatalog
import BulwarkCore
import Foundation

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
        print(#"{"points": \#(points), "pointsListSeconds": \#(pointsSeconds), "vms": \#(vms), "vmListSeconds": \#(vmsSeconds)}"#)
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
