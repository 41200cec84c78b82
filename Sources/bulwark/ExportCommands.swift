import ArgumentParser
import BulwarkAPI
import BulwarkClient
import Foundation

/// `bulwark export start|list|stop`: recovery points served read-only over NBD.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Serve a recovery point's disks read-only over NBD.",
        discussion: """
            bulwarkd serves each disk of the point as an NBD export on a unix socket on the server, assembled from \
            the datastore as clients read it (zeros are reported, not sent). Any NBD client reads it: \
            `qemu-img convert nbd+unix:///vda?socket=SOCKET vda.qcow2`, `nbdcopy`, `nbdinfo`, libguestfs. \
            Retention keeps a served point until its export stops.
            """,
        subcommands: [Start.self, List.self, Stop.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve a recovery point; prints one NBD URI per disk.")
        @Argument(help: "The VM: HOST/NAME, UUID, or NAME where unique.") var vm: String
        @Option(name: .long, help: "The point's id (`bulwark points VM`), or `latest`.") var point = "latest"
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let view: ExportView = try await server.withClient { client throws(ClientError) in
                try await client.post("/v1/exports", ExportRequest(vm: vm, point: point))
            }
            if json { return try printJSON(view) }
            print("export \(view.id): point \(view.point) of \(view.vmName) (\(view.pointCreatedAt.formatted(.iso8601)))")
            for disk in view.disks { print("  \(disk.target)  \(formatBytes(UInt64(max(0, disk.sizeBytes))))  \(disk.uri)") }
            print("stop it with `bulwark export stop \(view.id)`")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the points served now.")
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let views: [ExportView] = try await server.withClient { client throws(ClientError) in
                try await client.get("/v1/exports")
            }
            if json { return try printJSON(views) }
            if views.isEmpty { return print("no recovery point is served; `bulwark export start VM` serves one") }
            printTable(
                ["ID", "VM", "POINT", "DISKS", "CONNECTIONS", "SOCKET"],
                views.map {
                    [$0.id, $0.vmName, $0.point, $0.disks.map(\.target).joined(separator: ","), "\($0.connections)", $0.socket]
                })
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop serving a point; its open connections close.")
        @Argument(help: "The export's id.") var id: String
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let view: ExportView = try await server.withClient { client throws(ClientError) in
                try await client.delete("/v1/exports/\(id.pathEscaped)")
            }
            print("stopped export \(view.id) of point \(view.point)")
        }
    }
}
