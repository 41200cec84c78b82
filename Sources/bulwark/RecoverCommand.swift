import ArgumentParser
import BulwarkAPI
import BulwarkClient
import BulwarkCore
import Foundation

/// `bulwark recover VM --point ID (--to original | --to-host HOST --path DIR)`.
struct Recover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring a VM back from a recovery point: to its original place, or as a new VM on any host.",
        discussion: """
            --to original stops the VM (after asking, unless --yes), writes each disk back on its host (only the \
            chunks that differ from what the disk holds), restores the domain definition of the point's time, and \
            starts the VM again if it was running. Its protection group is kept; its next sync is a consistency \
            check, which bulwarkd queues at once. The VM's disks must have the size they had in the point.

            --to-host HOST --path DIR writes the disks as new qcow2 files (raw with --format raw) named \
            NAME-TARGET.qcow2 in DIR on any enrolled host and defines the VM there with a new name (--name, \
            default VM-restored), a new UUID and new MAC addresses; --start starts it. The host's agent refuses \
            before any data moves when the name is taken, DIR is not a writable folder, has too little space, or a \
            path is longer than the file system allows; when the restore fails, the files it made are removed.

            --items PATH... --to-folder DIR copies files and folders out of the point's guest file systems into DIR \
            on the server (or, with --host HOST, on that host, whose agent reads the point from the server), without \
            starting the VM or needing an agent in the guest: paths as `bulwark browse` shows \
            them (/vdb1/etc/hosts). ext2/3/4 on MBR, GPT or whole disks are read; content, permissions and times are \
            kept, links are recreated as links and never followed, device nodes are skipped with a warning, and \
            nothing is written outside DIR. --disk TARGET --to-folder DIR copies a whole disk out as an image \
            (qcow2, or raw with --format raw).

            --throttle 50M limits the restore to 50 MiB a second; 50M@08:00-18:00 only inside that daily window. \
            --notify URL posts the job as JSON when it ends. With --wait the command follows the job and exits 0 \
            when the restore succeeded, 1 when it failed or was cancelled.
            """)
    @Argument(help: "The VM: HOST/NAME, its UUID, or NAME when that is unique.") var vm: String
    @Option(name: .long, help: "The point's id (`bulwark points VM`), or `latest`.") var point = "latest"
    @Option(name: .long, help: "`original`: write the VM back where it is.") var to: String?
    @Option(name: .long, help: "The enrolled host a new VM is written on.") var toHost: String?
    @Option(name: .long, help: "The folder on that host for the new VM's disks.") var path: String?
    @Option(name: .long, help: "The new VM's name (default: VM-restored).") var name: String?
    @Option(name: .long, help: "The new VM's disk format: qcow2 or raw.") var format: String?
    @Flag(name: .long, help: "Start the VM once it is restored.") var start = false
    @Option(name: .long, help: "Limit the restore's rate: RATE[@HH:MM-HH:MM], e.g. 50M or 50M@08:00-18:00.")
    var throttle: String?
    @Option(name: .long, help: "Post the job as JSON to this http(s) URL when it ends.") var notify: String?
    @Option(name: .long, help: "Seconds a running VM gets to shut down before it is stopped hard (--to original).")
    var shutdownTimeout: Int?
    @Option(name: .long, parsing: .upToNextOption, help: "Files and folders to copy out, as `bulwark browse` names them.")
    var items: [String] = []
    @Option(name: .customLong("disk"), help: "A whole disk to copy out as an image (repeat for more).") var disks: [String] = []
    @Option(name: .long, help: "The folder items and disk images are copied into: on the server, or on --host.") var toFolder: String?
    @Option(name: .long, help: "Copy the items into --to-folder on this enrolled host (its agent reads the point) instead of the server.")
    var host: String?
    @Flag(name: .long, help: "Do not ask before stopping the VM (--to original).") var yes = false
    @Flag(name: .long, help: "Follow the job until it ends.") var wait = false
    @Flag(name: .long, help: "Print JSON.") var json = false
    @OptionGroup var server: ServerOptions

    var isItemLevel: Bool { !items.isEmpty || !disks.isEmpty || toFolder != nil || host != nil }

    func validate() throws {
        if isItemLevel {
            guard to == nil, toHost == nil, path == nil, name == nil, !start else {
                throw ValidationError("--items and --disk copy into --to-folder: leave out --to, --to-host, --path, --name and --start")
            }
            guard let toFolder, toFolder.hasPrefix("/") else {
                throw ValidationError("--to-folder: give the absolute folder on the server to copy into")
            }
            guard !items.isEmpty || !disks.isEmpty else {
                throw ValidationError("name what to copy out: --items PATH... (see `bulwark browse VM`) or --disk TARGET")
            }
            if host != nil, !disks.isEmpty {
                throw ValidationError("--host copies files and folders (--items); a whole disk goes to a host as a new VM (--to-host HOST --path DIR)")
            }
            return
        }
        switch (to, toHost) {
        case ("original"?, _):
            guard path == nil, name == nil, format == nil else {
                throw ValidationError("--to original writes the VM's own disks: leave out --path, --name and --format")
            }
        case (let other?, _):
            throw ValidationError("--to '\(other)': the only place is `original`; for a new VM give --to-host HOST --path DIR")
        case (nil, nil):
            throw ValidationError("say where the VM goes: --to original, or --to-host HOST --path DIR for a new VM")
        case (nil, _?):
            guard let path, path.hasPrefix("/") else {
                throw ValidationError("--path: give the absolute folder on the host for the new VM's disks")
            }
        }
        if let format, !["qcow2", "raw"].contains(format) {
            throw ValidationError("--format '\(format)': write the disks as qcow2 or raw")
        }
        if let throttle {
            do { _ = try Throttle(parsing: throttle) } catch { throw ValidationError("\(error)") }
        }
        if let shutdownTimeout, !(0...3600).contains(shutdownTimeout) {
            throw ValidationError("--shutdown-timeout \(shutdownTimeout): give 0 to 3600 seconds")
        }
    }

    func run() async throws {
        if to == "original", !yes {
            guard isatty(STDIN_FILENO) != 0 else {
                throw ValidationError("--to original stops \(vm) and overwrites its disks: confirm with --yes when not at a terminal")
            }
            print("This stops \(vm) and writes point \(point) over its disks. Continue? [y/N] ", terminator: "")
            guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
                print("nothing was changed")
                throw ExitCode(1)
            }
        }
        let request = RecoveryRequest(
            vm: vm, point: point, to: to, toHost: isItemLevel ? host : toHost, path: path, name: name, format: format,
            start: start ? true : nil, throttle: throttle, notify: notify, shutdownTimeout: shutdownTimeout,
            items: items.isEmpty ? nil : items, disks: disks.isEmpty ? nil : disks, toFolder: toFolder)
        let job = try await server.withClient { client throws(ClientError) -> JobView in
            let job: JobView = try await client.post("/v1/recover", request)
            guard wait else { return job }
            if !json { print("job \(job.id) queued: recovery of \(job.subject)") }
            return try await JobWatcher(client: client, json: json).follow(job.id)
        }
        if json { try printJSON(job) } else { print(wait ? JobWatcher.summary(job) : "job \(job.id) queued: recovery of \(job.subject)") }
        if wait, JobWatcher.exitCode(job) != 0 { throw ExitCode(JobWatcher.exitCode(job)) }
    }
}

/// `bulwark browse VM [PATH]`.
struct Browse: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the files in a recovery point, without starting the VM.",
        discussion: """
            `/` lists the point's file systems (vda1, vdb: a partition, or a whole disk) with their type; \
            `/vdb1/etc` lists a folder in one. ext2/3/4 file systems are read straight from the datastore. Copy what \
            you find with `bulwark recover VM --point ID --items PATH... --to-folder DIR`.
            """)
    @Argument(help: "The VM: HOST/NAME, its UUID, or NAME when that is unique.") var vm: String
    @Argument(help: "The folder to list (default /).") var path = "/"
    @Option(name: .long, help: "The point's id (`bulwark points VM`), or `latest`.") var point = "latest"
    @Flag(name: .long, help: "Print JSON.") var json = false
    @OptionGroup var server: ServerOptions

    func run() async throws {
        let query = "vm=\(vm.queryEscaped)&point=\(point.queryEscaped)&path=\(path.queryEscaped)"
        let view: BrowseView = try await server.withClient { client throws(ClientError) in
            try await client.get("/v1/browse?\(query)")
        }
        if json { return try printJSON(view) }
        if view.entries.isEmpty { return print("\(path) is empty") }
        printTable(
            ["MODE", "SIZE", "MODIFIED", "NAME"],
            view.entries.map { entry in
                let kind = ["directory": "d", "symlink": "l", "filesystem": "F", "device": "c", "fifo": "p", "socket": "s"][entry.kind] ?? "-"
                let name = entry.target.map { "\(entry.name) -> \($0)" }
                    ?? entry.fileSystem.map { "\(entry.name)  (\($0)\(entry.label.map { ", \($0)" } ?? ""))" } ?? entry.name
                return [kind + entry.mode, formatBytes(entry.size), entry.modifiedAt?.formatted(.iso8601) ?? "-", name]
            })
    }
}
