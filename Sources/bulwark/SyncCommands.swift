import ArgumentParser
import BulwarkAPI
import BulwarkClient
import BulwarkCore
import Foundation

/// `bulwark backup VM`.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sync a protected VM now and make a recovery point.",
        discussion: """
            Queues a sync of the VM on its host's agent: incremental from the VM's last checkpoint when that can be \
            trusted, a consistency check when it cannot (QEMU was killed, a disk was resized, the checkpoint is \
            gone), a full backup when the VM has no point yet. The VM must be in a protection group: the group gives \
            the datastore, retention and quiesce policy. With --wait the command follows the job (a progress bar on \
            a terminal) and exits 0 when the point was committed, 1 when the job failed or was cancelled.
            """)
    @Argument(help: "The VM: HOST/NAME, its UUID, or NAME when that is unique.") var vm: String
    @Flag(name: .long, help: "Mark the point as an express full backup.") var expressFull = false
    @Option(name: .long, help: "Keep the point until this date (YYYY-MM-DD, or an ISO 8601 time), whatever the retention range.")
    var retainUntil: String?
    @Flag(name: .long, help: "Follow the job until it ends.") var wait = false
    @Flag(name: .long, help: "Print JSON.") var json = false
    @OptionGroup var server: ServerOptions

    func validate() throws {
        if let retainUntil, Self.parseDate(retainUntil) == nil {
            throw ValidationError(
                "--retain-until '\(retainUntil)' is not a date: write YYYY-MM-DD or an ISO 8601 time such as 2027-01-31T18:00:00Z")
        }
        if let retainUntil, let date = Self.parseDate(retainUntil), date <= Date() {
            throw ValidationError("--retain-until \(retainUntil) is in the past: give a future date")
        }
    }

    static func parseDate(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        let day = DateFormatter()
        day.locale = Locale(identifier: "en_US_POSIX")
        day.timeZone = TimeZone(identifier: "UTC")
        day.dateFormat = "yyyy-MM-dd"
        // The end of that day: "keep until the 31st" includes the 31st.
        return day.date(from: text).map { $0.addingTimeInterval(86_399) }
    }

    func run() async throws {
        let request = BackupRequest(vm: vm, expressFull: expressFull, retainUntil: retainUntil.flatMap(Self.parseDate))
        let job = try await server.withClient { client throws(ClientError) -> JobView in
            let job: JobView = try await client.post("/v1/backup", request)
            guard wait else { return job }
            if !json { print("job \(job.id) queued: sync of \(job.subject)") }
            return try await JobWatcher(client: client, json: json).follow(job.id)
        }
        if json { try printJSON(job) } else { print(wait ? JobWatcher.summary(job) : "job \(job.id) queued: sync of \(job.subject)") }
        if wait, JobWatcher.exitCode(job) != 0 { throw ExitCode(JobWatcher.exitCode(job)) }
    }
}

/// `bulwark check VM|--group NAME`.
struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a consistency check of a VM, or of every member of a group.",
        discussion: """
            A consistency check reads every allocated block of the VM's disks, compares each chunk with the VM's \
            last recovery point and sends only what differs; it makes a new point and starts a new checkpoint \
            chain. Use it when you doubt a replica; Bulwark runs one by itself when change tracking cannot be \
            trusted. With --wait the command follows the jobs and exits 0 when all succeeded, 1 otherwise.
            """)
    @Argument(help: "The VM: HOST/NAME, its UUID, or NAME when that is unique.") var vm: String?
    @Option(name: .long, help: "Check every member of this protection group.") var group: String?
    @Flag(name: .long, help: "Follow the jobs until they end.") var wait = false
    @Flag(name: .long, help: "Print JSON.") var json = false
    @OptionGroup var server: ServerOptions

    func validate() throws {
        guard (vm == nil) != (group == nil) else {
            throw ValidationError("name a VM or give --group NAME, not both and not neither")
        }
    }

    func run() async throws {
        let jobs = try await server.withClient { client throws(ClientError) -> [JobView] in
            let queued: [JobView] = try await client.post("/v1/check", CheckRequest(vm: vm, group: group))
            guard wait else { return queued }
            var finished: [JobView] = []
            for job in queued {
                if !json { print("job \(job.id) queued: consistency check of \(job.subject)") }
                finished.append(try await JobWatcher(client: client, json: json).follow(job.id))
            }
            return finished
        }
        if json { return try printJSON(jobs) }
        for job in jobs {
            print(wait ? JobWatcher.summary(job) : "job \(job.id) queued: consistency check of \(job.subject)")
        }
        if wait, let failed = jobs.first(where: { JobWatcher.exitCode($0) != 0 }) {
            throw ExitCode(JobWatcher.exitCode(failed))
        }
    }
}
