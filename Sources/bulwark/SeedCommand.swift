import ArgumentParser
import BulwarkAPI
import BulwarkClient
import Foundation

/// `bulwark seed VM --disk TARGET=PATH...`.
struct Seed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a VM's initial replica from disk images exported from it (replica creation manual).",
        discussion: """
            For a VM too large to copy over the network: export each of its disks to an image (for instance \
            `virsh backup-begin` in push mode, or `qemu-img convert` of a shut-off VM's disk), carry the images to \
            the Bulwark server, and name them here, one per disk. bulwarkd reads them itself (qcow2 or raw, through \
            qemu-nbd) into the VM's first recovery point. The VM's next sync is then a consistency check that sends \
            only what changed since the export. The VM must be in a protection group and have no recovery point. \
            With --wait the command follows the job and exits 0 when the point was committed, 1 otherwise.
            """)
    @Argument(help: "The VM: HOST/NAME, its UUID, or NAME when that is unique.") var vm: String
    @Option(name: .long, help: "A disk and its image's absolute path on the server, as TARGET=PATH (vda=/media/web1-vda.qcow2); once per disk.")
    var disk: [String] = []
    @Flag(name: .long, help: "Follow the job until it ends.") var wait = false
    @Flag(name: .long, help: "Print JSON.") var json = false
    @OptionGroup var server: ServerOptions

    func validate() throws {
        guard !disk.isEmpty else { throw ValidationError("give one --disk TARGET=PATH for each disk of the VM") }
        for text in disk {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].hasPrefix("/") else {
                throw ValidationError("--disk '\(text)' is not TARGET=PATH with an absolute path, such as vda=/media/web1-vda.qcow2")
            }
        }
    }

    func run() async throws {
        let disks = disk.map { text in
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            return SeedRequest.Disk(target: parts[0], path: parts[1])
        }
        let job = try await server.withClient { client throws(ClientError) -> JobView in
            let job: JobView = try await client.post("/v1/seed", SeedRequest(vm: vm, disks: disks))
            guard wait else { return job }
            if !json { print("job \(job.id) started: seed of \(job.subject)") }
            return try await JobWatcher(client: client, json: json).follow(job.id)
        }
        if json { try printJSON(job) } else { print(wait ? JobWatcher.summary(job) : "job \(job.id) started: seed of \(job.subject)") }
        if wait, JobWatcher.exitCode(job) != 0 { throw ExitCode(JobWatcher.exitCode(job)) }
    }
}
