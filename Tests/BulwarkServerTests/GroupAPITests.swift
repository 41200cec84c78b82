import BulwarkAPI
import BulwarkCatalog
import BulwarkClient
import BulwarkCore
import BulwarkServer
import BulwarkStore
import Foundation
import TestSupport
import Testing

/// Protection groups, VMs, jobs, alerts and agents through the API, with VMs reported into the catalog the way an
/// agent's inventory will arrive.
@Suite struct GroupAPITests {
    /// Enrolls host `kvm1` with VMs `web1` and `db1`, and `kvm2` with another `web1`, straight into the catalog.
    static func seedInventory(_ directory: ServerDataDirectory) async throws -> [String: UUID] {
        let catalog = try await Catalog.open(path: directory.catalogPath)
        var ids: [String: UUID] = [:]
        for (host, names) in [("kvm1", ["web1", "db1"]), ("kvm2", ["web1"])] {
            _ = try await catalog.upsertAgent(
                AgentRegistration(host: host, certificateFingerprint: "fp-\(host)", certificatePEM: "pem"))
            let vms = names.map { name in
                ReportedVM(
                    uuid: UUID(), name: name, state: .running, guestAgentAnswering: false,
                    disks: [VMDisk(target: "vda", format: "qcow2", capacityBytes: 1 << 30, path: "/var/lib/\(name).qcow2")])
            }
            for vm in vms { ids["\(host)/\(vm.name)"] = vm.uuid }
            _ = try await catalog.replaceInventory(host: host, vms: vms)
        }
        return ids
    }

    @Test func groupLifecycleWithMembers() async throws {
        let folder = try TemporaryDirectory("groups")
        defer { folder.cleanUp() }
        try await withServer { client, directory in
            let ids = try await Self.seedInventory(directory)
            let _: DatastoreView = try await client.post(
                "/v1/datastores", DatastoreCreateRequest(name: "main", path: folder.file("main")))
            let created: GroupView = try await client.post(
                "/v1/groups",
                GroupCreateRequest(
                    name: "web", datastore: "main",
                    policy: .init(retentionDays: "30", syncFrequency: "1h", recoveryPoints: "08:00,20:00", days: "mon,fri")))
            #expect(created.policy.retentionDays == 30)
            #expect(created.members.isEmpty)

            let added: GroupView = try await client.post("/v1/groups/web/members", GroupMembersRequest(vms: ["kvm1/web1", "db1"]))
            #expect(Set(added.members.map(\.uuid)) == [ids["kvm1/web1"]!, ids["kvm1/db1"]!])

            // web1 is on two hosts: the bare name is ambiguous, and the error lists the candidates.
            let _: GroupView = try await client.post("/v1/groups", GroupCreateRequest(name: "other", datastore: "main"))
            let ambiguous = await #expect(throws: ClientError.self) {
                let _: GroupView = try await client.post("/v1/groups/other/members", GroupMembersRequest(vms: ["web1"]))
            }
            #expect(ambiguous?.code == .rejected)
            #expect(ambiguous?.message.contains("kvm2/web1") == true)
            // A VM already in another group is refused, naming that group.
            let taken = await #expect(throws: ClientError.self) {
                let _: GroupView = try await client.post("/v1/groups/other/members", GroupMembersRequest(vms: ["kvm1/web1"]))
            }
            #expect(taken?.message.contains("'web'") == true)

            let unprotected: [VMView] = try await client.get("/v1/vms?unprotected=true")
            #expect(unprotected.map(\.uuid) == [ids["kvm2/web1"]!])
            let onHost: [VMView] = try await client.get("/v1/vms?host=kvm1")
            #expect(onHost.count == 2)
            #expect(onHost.allSatisfy { $0.group == "web" })

            let modified: GroupView = try await client.patch(
                "/v1/groups/web", GroupModifyRequest(policy: .init(quiesce: "required")))
            #expect(modified.policy.quiesce == .required)
            #expect(modified.policy.retentionDays == 30, "unchanged options keep their values")

            // With --delete-data, a VM that is not a member refuses the whole request before any data goes.
            let notMember = await #expect(throws: ClientError.self) {
                let _: GroupView = try await client.post(
                    "/v1/groups/web/members/remove", GroupMembersRequest(vms: ["kvm1/db1", "kvm2/web1"], deleteData: true))
            }
            #expect(notMember?.message.contains("kvm2/web1") == true)
            let unchanged: GroupView = try await client.get("/v1/groups/web")
            #expect(unchanged.members.count == 2)

            let removed: GroupView = try await client.post(
                "/v1/groups/web/members/remove", GroupMembersRequest(vms: [ids["kvm1/db1"]!.uuidString]))
            #expect(removed.members.map(\.uuid) == [ids["kvm1/web1"]!])

            let points: [RecoveryPointView] = try await client.get("/v1/points?vm=kvm1/web1")
            #expect(points.isEmpty)

            let deleted: GroupView = try await client.delete("/v1/groups/web?deleteData=false")
            #expect(deleted.name == "web")
            let groups: [GroupView] = try await client.get("/v1/groups")
            #expect(groups.map(\.name) == ["other"])
            // A datastore a group uses cannot be forgotten; the group names it.
            let shown: DatastoreView = try await client.get("/v1/datastores/main")
            #expect(shown.groups == ["other"])
        }
    }

    /// `--delete-data` deletes a removed member's points in the datastore and in the catalog; without it they stay.
    @Test func removingWithDeleteDataDeletesThePointsOnDiskAndInTheCatalog() async throws {
        let folder = try TemporaryDirectory("groups")
        defer { folder.cleanUp() }
        try await withServer { client, directory in
            let ids = try await Self.seedInventory(directory)
            let _: DatastoreView = try await client.post(
                "/v1/datastores", DatastoreCreateRequest(name: "main", path: folder.file("main"), chunkSize: "64K"))
            let _: GroupView = try await client.post("/v1/groups", GroupCreateRequest(name: "web", datastore: "main"))
            let _: GroupView = try await client.post("/v1/groups/web/members", GroupMembersRequest(vms: ["kvm1/web1", "kvm1/db1"]))

            // One committed point per VM, in the datastore and in the catalog, as a sync's commit leaves them.
            let store = try Datastore.open(at: folder.file("main"))
            let catalog = try await Catalog.open(path: directory.catalogPath)
            for key in ["kvm1/web1", "kvm1/db1"] {
                let vm = ids[key]!
                let id = RecoveryPointID.generate()
                let digest = try store.writeChunk([UInt8](repeating: 7, count: 65536)).digest
                try store.writeRecoveryPoint(
                    manifest: RecoveryPointManifest(
                        pointID: id, vmUUID: vm, vmName: key, createdAt: Date(), domainXML: "<domain/>",
                        consistency: .crashConsistent, syncKind: .full),
                    indexes: ["vda": try FixedIndex(chunkSize: 65536, logicalSize: 65536, digests: [digest])])
                try await catalog.insertRecoveryPoint(
                    NewRecoveryPoint(
                        id: id, vmUUID: vm, group: try ResourceName("web"), datastore: try ResourceName("main"),
                        createdAt: Date(), syncKind: .full, consistency: .crashConsistent, logicalBytes: 65536,
                        storedBytes: 100, transferredBytes: 100, retainUntil: Date().addingTimeInterval(86_400)))
            }

            let kept: GroupView = try await client.post(
                "/v1/groups/web/members/remove", GroupMembersRequest(vms: ["kvm1/db1"]))
            #expect(kept.deletedPoints == nil)
            #expect(try store.listRecoveryPoints(vm: ids["kvm1/db1"]!).count == 1, "without --delete-data points stay")

            let removed: GroupView = try await client.post(
                "/v1/groups/web/members/remove", GroupMembersRequest(vms: ["kvm1/web1"], deleteData: true))
            #expect(removed.deletedPoints == 1)
            #expect(try store.listRecoveryPoints(vm: ids["kvm1/web1"]!).isEmpty)
            let points: [RecoveryPointView] = try await client.get("/v1/points?vm=kvm1/web1")
            #expect(points.isEmpty)
            let other: [RecoveryPointView] = try await client.get("/v1/points?vm=kvm1/db1")
            #expect(other.count == 1)

            // Deleting the group with --delete-data takes every point it made, also those of db1, which left the
            // group earlier without its data.
            let gone: GroupView = try await client.delete("/v1/groups/web?deleteData=true")
            #expect(gone.deletedPoints == 1)
            #expect(try store.listRecoveryPoints(vm: ids["kvm1/db1"]!).isEmpty)
            let none: [RecoveryPointView] = try await client.get("/v1/points?vm=kvm1/db1")
            #expect(none.isEmpty)
        }
    }

    @Test func badPolicyValuesNameTheOptionAndTheRule() async throws {
        let folder = try TemporaryDirectory("groups")
        defer { folder.cleanUp() }
        try await withServer { client, _ in
            let _: DatastoreView = try await client.post(
                "/v1/datastores", DatastoreCreateRequest(name: "main", path: folder.file("main")))
            let cases: [(ProtectionPolicy.Options, String)] = [
                (.init(retentionDays: "0"), "--retention-days"),
                (.init(retentionDays: "449"), "448"),
                (.init(syncFrequency: "7m"), "--sync-frequency"),
                (.init(recoveryPoints: "25:00"), "--recovery-points"),
                (.init(days: "funday"), "--days"),
                (.init(consistencyCheck: "weekly"), "--consistency-check"),
                (.init(replicaCreation: "later"), "--replica-creation"),
                (.init(quiesce: "maybe"), "--quiesce"),
            ]
            for (options, fragment) in cases {
                let error = await #expect(throws: ClientError.self) {
                    let _: GroupView = try await client.post(
                        "/v1/groups", GroupCreateRequest(name: "g1", datastore: "main", policy: options))
                }
                #expect(error?.code == .rejected)
                #expect(error?.message.contains(fragment) == true, "\(fragment): \(error?.message ?? "")")
            }
            let noStore = await #expect(throws: ClientError.self) {
                let _: GroupView = try await client.post("/v1/groups", GroupCreateRequest(name: "g1", datastore: "nope"))
            }
            #expect(noStore?.code == .notFound)
            let unknownVM = await #expect(throws: ClientError.self) {
                let _: GroupView = try await client.post("/v1/groups/g1/members", GroupMembersRequest(vms: ["ghost"]))
            }
            #expect(unknownVM?.code == .notFound)
            let groups: [GroupView] = try await client.get("/v1/groups")
            #expect(groups.isEmpty, "a refused group must not be created")
        }
    }

    @Test func jobsAlertsAgentsAndNotYetAvailableOperations() async throws {
        try await withServer { client, directory in
            _ = try await Self.seedInventory(directory)
            let jobs: [JobView] = try await client.get("/v1/jobs?running=true")
            #expect(jobs.isEmpty)
            let alerts: [AlertView] = try await client.get("/v1/alerts")
            #expect(alerts.isEmpty)
            let agents: [AgentView] = try await client.get("/v1/agents")
            #expect(agents.map(\.host) == ["kvm1", "kvm2"])
            let token: EnrollmentTokenView = try await client.post("/v1/agents/tokens", EnrollmentTokenRequest(host: "kvm3", expires: "1h"))
            // SECRET.CA-FINGERPRINT: 64 hex digits each, so the agent can check the server before sending the secret.
            let parts = token.token.split(separator: ".")
            #expect(parts.count == 2 && parts.allSatisfy { $0.count == 64 })
            let badExpiry = await #expect(throws: ClientError.self) {
                let _: EnrollmentTokenView = try await client.post("/v1/agents/tokens", EnrollmentTokenRequest(host: "kvm3", expires: "90d"))
            }
            #expect(badExpiry?.message.contains("--expires") == true)
            let removed: AgentView = try await client.delete("/v1/agents/kvm2")
            #expect(removed.host == "kvm2")
            let missingJob = await #expect(throws: ClientError.self) {
                let _: JobView = try await client.get("/v1/jobs/not-an-id")
            }
            #expect(missingJob?.code == .rejected)
            let recover = await #expect(throws: ClientError.self) {
                let _: JobView = try await client.post("/v1/recover", [String: String]())
            }
            #expect(recover?.code == .rejected, "a recovery request names the VM and the point")
        }
    }
}
