import ArgumentParser
import BulwarkAPI
import BulwarkClient
import BulwarkCore
import Foundation

/// The policy options `group create` and `group modify` take.
struct PolicyOptions: ParsableArguments {
    @Option(name: .long, help: "Keep recovery points this many days (1–448; default 5).") var retentionDays: String?
    @Option(name: .long, help: "Sync every 15m|30m|1h|2h|4h|6h|12h|24h, or before-recovery-point (default 15m).")
    var syncFrequency: String?
    @Option(name: .long, help: "Recovery point times, HH:MM[,HH:MM...] (default 20:00).") var recoveryPoints: String?
    @Option(name: .long, help: "Days for recovery points and express fulls: mon,tue,... (default every day).")
    var days: String?
    @Option(name: .long, help: "Express full backup times HH:MM[,...], or none (default 20:00).") var expressFull: String?
    @Option(name: .long, help: "never | if-inconsistent | daily@HH:MM (default if-inconsistent).")
    var consistencyCheck: String?
    @Option(name: .long, help: "Initial replica: now | at:TIME | manual (default now).") var replicaCreation: String?
    @Option(name: .long, help: "auto | required | never (default auto).") var quiesce: String?

    var options: ProtectionPolicy.Options {
        .init(
            retentionDays: retentionDays, syncFrequency: syncFrequency, recoveryPoints: recoveryPoints, days: days,
            expressFull: expressFull, consistencyCheck: consistencyCheck, replicaCreation: replicaCreation,
            quiesce: quiesce)
    }
}

/// `bulwark group ...`: protection groups.
struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group",
        abstract: "Manage protection groups: which VMs, which datastore, and the protection policy.",
        subcommands: [Create.self, List.self, Show.self, Modify.self, Delete.self, Add.self, Remove.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a protection group.")
        @Argument(help: "The group's name (2–50 characters: a letter, then letters, digits, hyphens).") var name: String
        @Option(name: .long, help: "The datastore that keeps the group's recovery points.") var datastore: String
        @OptionGroup var policy: PolicyOptions
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let request = GroupCreateRequest(name: name, datastore: datastore, policy: policy.options)
            let view: GroupView = try await server.withClient { client throws(ClientError) in
                try await client.post("/v1/groups", request)
            }
            if json { try printJSON(view) } else { print("created protection group \(view.name) on datastore \(view.datastore)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List protection groups.")
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let views: [GroupView] = try await server.withClient { client throws(ClientError) in
                try await client.get("/v1/groups")
            }
            if json { return try printJSON(views) }
            if views.isEmpty { return print("no protection groups; create one with: bulwark group create NAME --datastore DS") }
            printTable(
                ["NAME", "DATASTORE", "MEMBERS", "SYNC", "RETENTION"],
                views.map {
                    [$0.name, $0.datastore, "\($0.members.count)", $0.policy.syncFrequency.description,
                     "\($0.policy.retentionDays) days"]
                })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a protection group: policy and members.")
        @Argument(help: "The group's name.") var name: String
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let view: GroupView = try await server.withClient { client throws(ClientError) in
                try await client.get("/v1/groups/\(name.pathEscaped)")
            }
            if json { return try printJSON(view) }
            printGroup(view)
        }
    }

    struct Modify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a protection group's policy.")
        @Argument(help: "The group's name.") var name: String
        @OptionGroup var policy: PolicyOptions
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func validate() throws {
            if policy.options.isEmpty { throw ValidationError("give at least one policy option to change") }
        }

        func run() async throws {
            let request = GroupModifyRequest(policy: policy.options)
            let view: GroupView = try await server.withClient { client throws(ClientError) in
                try await client.patch("/v1/groups/\(name.pathEscaped)", request)
            }
            if json { try printJSON(view) } else { printGroup(view) }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a protection group; its recovery points stay unless --delete-data is given.")
        @Argument(help: "The group's name.") var name: String
        @Flag(name: .long, help: "Also delete the recovery points the group made.") var deleteData = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let view: GroupView = try await server.withClient { client throws(ClientError) in
                try await client.delete("/v1/groups/\(name.pathEscaped)?deleteData=\(deleteData)")
            }
            print("deleted protection group \(view.name)"
                + (view.deletedPoints.map { " and \($0) recovery points" } ?? "; its recovery points are kept"))
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add VMs to a protection group.",
            discussion: """
                Name a VM as HOST/NAME, by UUID, or by NAME where unique. Each added VM without a recovery point gets \
                its initial replica as the group's --replica-creation says: queued at once (now), queued to start \
                at the set time (at:TIME), or none (manual: run `bulwark backup VM` when you choose). With --wait \
                the command follows the replicas queued to start now and exits 0 when all succeeded, 1 otherwise.
                """)
        @Argument(help: "The group's name.") var name: String
        @Argument(help: "The VMs to add.") var vms: [String]
        @Flag(name: .long, help: "Follow the initial replicas that start now until they end.") var wait = false
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let request = GroupMembersRequest(vms: vms)
            let (view, finished) = try await server.withClient { client throws(ClientError) -> (GroupView, [JobView]) in
                let view: GroupView = try await client.post("/v1/groups/\(name.pathEscaped)/members", request)
                if !json {
                    print("protection group \(view.name) has \(view.members.count) members")
                    for job in view.initialReplicas ?? [] {
                        let when = job.startAt.map { "starts \($0.formatted(date: .abbreviated, time: .shortened))" } ?? "queued"
                        print("job \(job.id) \(when): initial replica of \(job.subject)")
                    }
                }
                guard wait else { return (view, []) }
                var finished: [JobView] = []
                for job in view.initialReplicas ?? [] where job.startAt == nil {
                    finished.append(try await JobWatcher(client: client, json: json).follow(job.id))
                }
                return (view, finished)
            }
            if json { return try printJSON(view) }
            for job in finished { print(JobWatcher.summary(job)) }
            if let failed = finished.first(where: { JobWatcher.exitCode($0) != 0 }) {
                throw ExitCode(JobWatcher.exitCode(failed))
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove VMs from a protection group; their recovery points stay unless --delete-data is given.")
        @Argument(help: "The group's name.") var name: String
        @Argument(help: "The VMs to remove.") var vms: [String]
        @Flag(name: .long, help: "Also delete these VMs' recovery points of this group.") var deleteData = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let request = GroupMembersRequest(vms: vms, deleteData: deleteData)
            let view: GroupView = try await server.withClient { client throws(ClientError) in
                try await client.post("/v1/groups/\(name.pathEscaped)/members/remove", request)
            }
            print("protection group \(view.name) has \(view.members.count) members"
                + (view.deletedPoints.map { "; \($0) recovery points deleted" } ?? ""))
        }
    }
}

func printGroup(_ view: GroupView) {
    let policy = view.policy
    print("name               \(view.name)")
    print("datastore          \(view.datastore)")
    print("retention          \(policy.retentionDays) days")
    print("sync frequency     \(policy.syncFrequency)")
    print("recovery points    \(policy.recoveryPointTimes.map(\.description).joined(separator: ",")) on \(policy.days.map(\.description).joined(separator: ","))")
    print("express full       \(policy.expressFullTimes.isEmpty ? "none" : policy.expressFullTimes.map(\.description).joined(separator: ","))")
    print("consistency check  \(policy.consistencyCheck)")
    print("replica creation   \(policy.replicaCreation)")
    print("quiesce            \(policy.quiesce)")
    if let usage = view.usage {
        print("disk used          \(ByteCount.approximate(usage.storedBytes)) (chunks its points stored)")
        print(
            "disk needed        about \(ByteCount.approximate(usage.estimatedBytes)) for \(policy.retentionDays) days "
                + "(daily change \(ByteCount.approximate(usage.dailyChangeBytes)), "
                + (usage.measured ? "measured" : "assumed 5% a day where less than a day of history") + ")")
    }
    print("members            \(view.members.isEmpty ? "none" : "")")
    for member in view.members { print("  \(member.host.map { "\($0)/" } ?? "")\(member.name)  \(member.uuid.uuidString.lowercased())") }
}
