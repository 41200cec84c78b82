import ArgumentParser
import BulwarkAPI
import BulwarkClient
import Foundation

/// `bulwark vm list` and `bulwark vm move`.
struct VMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm", abstract: "Virtual machines the agents report.", subcommands: [List.self, Move.self])

    struct Move: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Confirm that a VM now lives on another host that reports it.",
            discussion: """
                A VM stays with its host while a second host also reports it (a vm-claim-conflict alert says so): \
                only its host runs its syncs and in-place restores. It follows the other host by itself when its \
                old host stops reporting it. When it really moved but the old host still reports it (a copy left \
                defined there), move it here. The host must report the VM now.

                Exit codes: 0 moved; 1 refused (the host does not report the VM, or has another VM of that name); \
                65 bad input.
                """)
        @Argument(help: "The VM: HOST/NAME, UUID, or a unique NAME.") var vm: String
        @Option(name: .customLong("to-host"), help: "The host that reports the VM and is to hold it.") var toHost: String
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let moved: VMView = try await server.withClient { client throws(ClientError) in
                try await client.post("/v1/vms/move", VMMoveRequest(vm: vm, toHost: toHost))
            }
            if json { return try printJSON(moved) }
            print("VM \(moved.uuid.uuidString.lowercased()) is now \(moved.host ?? "?")/\(moved.name)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List VMs, with their protection group.")
        @Option(name: .long, help: "Only VMs on this host.") var host: String?
        @Flag(name: .long, help: "Only VMs in no protection group.") var unprotected = false
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            var query: [String] = []
            if let host { query.append("host=\(host.queryEscaped)") }
            if unprotected { query.append("unprotected=true") }
            let path = "/v1/vms" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
            let views: [VMView] = try await server.withClient { client throws(ClientError) in try await client.get(path) }
            if json { return try printJSON(views) }
            if views.isEmpty { return print("no VMs; enroll an agent on each KVM host (bulwark agent token)") }
            printTable(
                ["HOST/NAME", "UUID", "STATE", "DISKS", "GROUP"],
                views.map {
                    ["\($0.host ?? "?")/\($0.name)", $0.uuid.uuidString.lowercased(), $0.state, "\($0.disks.count)",
                     $0.group ?? "-"]
                })
        }
    }
}

/// `bulwark points VM`.
struct Points: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a VM's recovery points, newest first.", discussion: "Name the VM as HOST/NAME, by UUID, or by NAME where unique.")
    @Argument(help: "The VM.") var vm: String
    @Flag(name: .long, help: "Print JSON.") var json = false
    @OptionGroup var server: ServerOptions

    func run() async throws {
        let path = "/v1/points?vm=\(vm.queryEscaped)"
        let views: [RecoveryPointView] = try await server.withClient { client throws(ClientError) in try await client.get(path) }
        if json { return try printJSON(views) }
        if views.isEmpty { return print("no recovery points for \(vm)") }
        printTable(
            ["ID", "TIME", "SYNC", "CONSISTENCY", "LOGICAL", "SENT", "STORED", "STATE"],
            views.map {
                [$0.id, $0.createdAt.formatted(.iso8601), $0.syncKind.rawValue, $0.consistency.rawValue,
                 formatBytes(UInt64(max(0, $0.logicalBytes))), formatBytes(UInt64(max(0, $0.transferredBytes))),
                 formatBytes(UInt64(max(0, $0.storedBytes))), $0.state.rawValue]
            })
    }
}

/// `bulwark verify` and `bulwark gc`.
struct Maintenance {
    static func run(_ endpoint: String, datastore: String?, json: Bool, server: ServerOptions) async throws {
        let path = "/v1/\(endpoint)" + (datastore.map { "?datastore=\($0.queryEscaped)" } ?? "")
        let reports: [MaintenanceReport] = try await server.withClient { client throws(ClientError) in
            try await client.post(path, [String: String]())
        }
        if json { try printJSON(reports) } else {
            if reports.isEmpty { print("no datastores") }
            for report in reports {
                print("\(report.datastore): \(report.ok ? "ok" : "DAMAGED"): \(report.summary)")
                for chunk in report.damagedChunks { print("  damaged chunk \(chunk)") }
                for point in report.damagedPoints { print("  damaged point \(point)") }
            }
        }
        if reports.contains(where: { !$0.ok }) { throw ExitCode(1) }
    }
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read every chunk of every recovery point and check its digest; exit 1 when anything is damaged.")
    @Option(name: .long, help: "Only this datastore.") var datastore: String?
    @Flag(name: .long, help: "Print JSON.") var json = false
    @OptionGroup var server: ServerOptions
    func run() async throws { try await Maintenance.run("verify", datastore: datastore, json: json, server: server) }
}

struct GC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove chunks no recovery point uses any more (after a 24-hour grace period).")
    @Option(name: .long, help: "Only this datastore.") var datastore: String?
    @Flag(name: .long, help: "Print JSON.") var json = false
    @OptionGroup var server: ServerOptions
    func run() async throws { try await Maintenance.run("gc", datastore: datastore, json: json, server: server) }
}
