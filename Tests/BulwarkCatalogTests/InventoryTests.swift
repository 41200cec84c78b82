import BulwarkCatalog
import BulwarkCore
import Foundation
import Testing

@Suite struct InventoryTests {
    @Test func reportsReplaceAHostsVMsAndDisks() async throws {
        try await withCatalog { catalog, _ in
            try await addHost(catalog, "kvm1")
            let web = reported("web1", disks: 2)
            let db = reported("db1", state: .shutOff)
            let first = try await catalog.replaceInventory(host: "kvm1", vms: [web, db], now: t0)
            #expect(Set(first.arrived) == [web.uuid, db.uuid])
            let listed = try await catalog.vms()
            #expect(listed.map(\.name) == ["db1", "web1"])
            #expect(listed[1].disks.map(\.target) == ["vda", "vdb"])
            #expect(listed[1].disks[1].capacityBytes == 2 << 30)
            #expect(listed[0].state == .shutOff && listed[0].host == "kvm1" && listed[0].lastReportedAt == t0)
            #expect(try await catalog.agent(host: "kvm1").lastSeenAt == t0)
            #expect(try await catalog.agent(host: "kvm1").vmCount == 2)

            // web1 is renamed and loses a disk; db1 is gone and was unprotected, so it is forgotten.
            var renamed = reported("web1-renamed", uuid: web.uuid, disks: 1)
            renamed.guestAgentAnswering = false
            let second = try await catalog.replaceInventory(host: "kvm1", vms: [renamed], now: t0.addingTimeInterval(60))
            #expect(second.arrived.isEmpty && second.forgotten == [db.uuid] && second.missing.isEmpty)
            let vm = try await catalog.vm(uuid: web.uuid)
            #expect(vm.name == "web1-renamed" && vm.disks.count == 1 && !vm.guestAgentAnswering)
            await expectCatalogError(.notFound) { try await catalog.vm(uuid: db.uuid) }
        }
    }

    @Test func namesCanSwapWithinOneReport() async throws {
        try await withCatalog { catalog, _ in
            try await addHost(catalog, "kvm1")
            let a = reported("a")
            let b = reported("b")
            try await catalog.replaceInventory(host: "kvm1", vms: [a, b], now: t0)
            try await catalog.replaceInventory(
                host: "kvm1", vms: [reported("b", uuid: a.uuid), reported("a", uuid: b.uuid)], now: t0)
            #expect(try await catalog.vm(uuid: a.uuid).name == "b")
            #expect(try await catalog.vm(uuid: b.uuid).name == "a")
        }
    }

    @Test func protectedVMsThatVanishAreKeptAndFollowAMove() async throws {
        try await withCatalog { catalog, _ in
            try await addHost(catalog, "kvm1")
            try await addHost(catalog, "kvm2")
            _ = try await catalog.addDatastore(name: name("main"), path: path("/srv/main"), now: t0)
            _ = try await catalog.createGroup(name: name("gold"), datastore: name("main"), now: t0)
            let web = reported("web1")
            try await catalog.replaceInventory(host: "kvm1", vms: [web], now: t0)
            try await catalog.addMembers(group: name("gold"), vms: [vmRef("kvm1/web1")], now: t0)

            let gone = try await catalog.replaceInventory(host: "kvm1", vms: [], now: t0)
            #expect(gone.missing == [web.uuid] && gone.forgotten.isEmpty)
            let missing = try await catalog.vm(uuid: web.uuid)
            #expect(missing.host == nil && missing.state == .missing && missing.group == name("gold"))
            #expect(missing.reference == web.uuid.uuidString.lowercased())

            let moved = try await catalog.replaceInventory(host: "kvm2", vms: [web], now: t0)
            #expect(moved.arrived == [web.uuid])
            let found = try await catalog.vm(uuid: web.uuid)
            #expect(found.host == "kvm2" && found.state == .running && found.group == name("gold"))
            // The old host's next report does not take the VM back.
            try await catalog.replaceInventory(host: "kvm1", vms: [], now: t0)
            #expect(try await catalog.vm(uuid: web.uuid).host == "kvm2")
            // Removing the host keeps the protected VM.
            let removal = try await catalog.removeAgent(host: "kvm2")
            #expect(removal.missing == [web.uuid])
            #expect(try await catalog.vm(uuid: web.uuid).host == nil)
        }
    }

    @Test func aSecondHostReportingAVMClaimsItWithoutMovingIt() async throws {
        try await withCatalog { catalog, _ in
            try await addHost(catalog, "kvm1")
            try await addHost(catalog, "kvm2")
            let web = reported("web1")
            try await catalog.replaceInventory(host: "kvm1", vms: [web], now: t0)

            // kvm2 reports the same UUID under another name: a claim, an alert, and the VM stays on kvm1.
            let claim = try await catalog.replaceInventory(
                host: "kvm2", vms: [reported("stolen", uuid: web.uuid)], now: t0.addingTimeInterval(10))
            #expect(claim.claimed == [web.uuid] && claim.arrived.isEmpty)
            var vm = try await catalog.vm(uuid: web.uuid)
            #expect(vm.host == "kvm1" && vm.name == "web1")
            var alerts = try await catalog.alerts()
            #expect(alerts.map(\.kind) == [.vmClaimConflict])
            #expect(alerts.first?.message.contains("also reported by host 'kvm2'") == true)
            #expect(alerts.first?.message.contains("bulwark vm move") == true)
            // kvm1 keeps reporting it: nothing changes, however often kvm2 claims.
            try await catalog.replaceInventory(host: "kvm1", vms: [web], now: t0.addingTimeInterval(20))
            try await catalog.replaceInventory(host: "kvm2", vms: [reported("stolen", uuid: web.uuid)], now: t0.addingTimeInterval(30))
            vm = try await catalog.vm(uuid: web.uuid)
            #expect(vm.host == "kvm1" && vm.name == "web1")
            #expect(try await catalog.alerts().count == 1)

            // kvm2 stops claiming: the alert resolves.
            try await catalog.replaceInventory(host: "kvm2", vms: [], now: t0.addingTimeInterval(40))
            #expect(try await catalog.alerts().isEmpty)

            // A live migration: kvm2 reports it, then kvm1 stops: the VM follows kvm2 at once, the alert resolves.
            try await catalog.replaceInventory(host: "kvm2", vms: [reported("web1", uuid: web.uuid)], now: t0.addingTimeInterval(50))
            #expect(try await catalog.vm(uuid: web.uuid).host == "kvm1")
            try await catalog.replaceInventory(host: "kvm1", vms: [], now: t0.addingTimeInterval(51))
            vm = try await catalog.vm(uuid: web.uuid)
            #expect(vm.host == "kvm2" && vm.name == "web1")
            #expect(try await catalog.alerts().isEmpty)

            // kvm1 reports it again: now kvm1 is the claimant.
            try await catalog.replaceInventory(host: "kvm1", vms: [web], now: t0.addingTimeInterval(60))
            #expect(try await catalog.vm(uuid: web.uuid).host == "kvm2")
            alerts = try await catalog.alerts()
            #expect(alerts.first?.message.contains("also reported by host 'kvm1'") == true)

            // An admin moves it to a host that claims it; not to one that does not.
            try await addHost(catalog, "kvm3")
            await expectCatalogError(.conflict, "does not report") {
                try await catalog.moveVM(.uuid(web.uuid), toHost: "kvm3", now: t0.addingTimeInterval(70))
            }
            let moved = try await catalog.moveVM(.uuid(web.uuid), toHost: "kvm1", now: t0.addingTimeInterval(70))
            #expect(moved.host == "kvm1")
            #expect(try await catalog.alerts().isEmpty)
            await expectCatalogError(.conflict, "already") {
                try await catalog.moveVM(.uuid(web.uuid), toHost: "kvm1", now: t0.addingTimeInterval(71))
            }
        }
    }

    @Test func filtersByHostAndProtection() async throws {
        try await withCatalog { catalog, _ in
            try await addHost(catalog, "kvm1")
            try await addHost(catalog, "kvm2")
            _ = try await catalog.addDatastore(name: name("main"), path: path("/srv/main"), now: t0)
            _ = try await catalog.createGroup(name: name("gold"), datastore: name("main"), now: t0)
            try await catalog.replaceInventory(host: "kvm1", vms: [reported("a"), reported("b")], now: t0)
            try await catalog.replaceInventory(host: "kvm2", vms: [reported("c")], now: t0)
            try await catalog.addMembers(group: name("gold"), vms: [vmRef("a")], now: t0)
            #expect(try await catalog.vms().map(\.reference) == ["kvm1/a", "kvm1/b", "kvm2/c"])
            #expect(try await catalog.vms(host: "kvm2").map(\.name) == ["c"])
            #expect(try await catalog.vms(unprotectedOnly: true).map(\.name) == ["b", "c"])
            #expect(try await catalog.vms(host: "KVM1", unprotectedOnly: true).map(\.name) == ["b"])
            await expectCatalogError(.notFound, "kvm9") { try await catalog.vms(host: "kvm9") }
        }
    }

    @Test func refusesBadReports() async throws {
        try await withCatalog { catalog, _ in
            try await addHost(catalog, "kvm1")
            let web = reported("web1")
            await expectCatalogError(.invalid, "twice") {
                try await catalog.replaceInventory(host: "kvm1", vms: [web, web], now: t0)
            }
            await expectCatalogError(.invalid, "'web1' twice") {
                try await catalog.replaceInventory(host: "kvm1", vms: [web, reported("web1")], now: t0)
            }
            await expectCatalogError(.invalid, "no '/'") {
                try await catalog.replaceInventory(host: "kvm1", vms: [reported("a/b")], now: t0)
            }
            var twoVda = reported("x", disks: 1)
            twoVda.disks.append(twoVda.disks[0])
            await expectCatalogError(.invalid, "bad disk 'vda'") {
                try await catalog.replaceInventory(host: "kvm1", vms: [twoVda], now: t0)
            }
            await expectCatalogError(.notFound, "no agent is enrolled for host 'kvm9'") {
                try await catalog.replaceInventory(host: "kvm9", vms: [web], now: t0)
            }
            #expect(try await catalog.vms().isEmpty)
        }
    }

    @Test func resolvesVMReferences() async throws {
        try await withCatalog { catalog, _ in
            try await addHost(catalog, "kvm1")
            try await addHost(catalog, "kvm2")
            let web1 = reported("web1")
            let db1 = reported("db1")
            let db1b = reported("db1")
            try await catalog.replaceInventory(host: "kvm1", vms: [web1, db1], now: t0)
            try await catalog.replaceInventory(host: "kvm2", vms: [db1b], now: t0)

            #expect(try await catalog.resolveVM(vmRef("web1")).uuid == web1.uuid)
            #expect(try await catalog.resolveVM(vmRef("kvm2/db1")).uuid == db1b.uuid)
            #expect(try await catalog.resolveVM(vmRef("KVM1/db1")).uuid == db1.uuid)
            #expect(try await catalog.resolveVM(.uuid(db1b.uuid)).host == "kvm2")

            await expectCatalogError(.ambiguous, "2 VMs are named 'db1'", "kvm1/db1", "kvm2/db1", "HOST/NAME") {
                try await catalog.resolveVM(vmRef("db1"))
            }
            do {
                _ = try await catalog.resolveVM(vmRef("db1"))
            } catch let error as CatalogError {
                #expect(error.candidates == ["kvm1/db1", "kvm2/db1"])
            }
            await expectCatalogError(.notFound, "no VM is named 'mail'") { try await catalog.resolveVM(vmRef("mail")) }
            await expectCatalogError(.notFound, "did you mean kvm1/web1") { try await catalog.resolveVM(vmRef("WEB1")) }
            await expectCatalogError(.notFound, "host 'kvm2' reports no VM named 'web1'", "kvm1/web1") {
                try await catalog.resolveVM(vmRef("kvm2/web1"))
            }
            await expectCatalogError(.notFound, "no agent is enrolled for host 'kvm3'") {
                try await catalog.resolveVM(vmRef("kvm3/web1"))
            }
            await expectCatalogError(.notFound, "no VM has UUID") { try await catalog.resolveVM(.uuid(UUID())) }
        }
    }

    @Test func lists800VMsReportedInOneTransaction() async throws {
        try await withCatalog { catalog, _ in
            for host in 0..<8 { try await addHost(catalog, "kvm\(host)") }
            _ = try await catalog.addDatastore(name: name("main"), path: path("/srv/main"), now: t0)
            _ = try await catalog.createGroup(name: name("gold"), datastore: name("main"), now: t0)
            var all: [ReportedVM] = []
            for host in 0..<8 {
                let vms = (0..<100).map { reported(String(format: "vm%03d", $0), disks: 1 + $0 % 3) }
                all += vms
                try await catalog.replaceInventory(host: "kvm\(host)", vms: vms, now: t0)
            }
            try await catalog.addMembers(group: name("gold"), vms: all.prefix(50).map { .uuid($0.uuid) }, now: t0)
            let listed = try await catalog.vms()
            #expect(listed.count == 800)
            #expect(Set(listed.map(\.uuid)) == Set(all.map(\.uuid)))
            #expect(listed.first?.reference == "kvm0/vm000" && listed.last?.reference == "kvm7/vm099")
            let listedDisks = listed.reduce(0) { $0 + $1.disks.count }
            let reportedDisks = all.reduce(0) { $0 + $1.disks.count }
            #expect(listedDisks == reportedDisks)
            #expect(listed.filter { $0.group != nil }.count == 50)
            #expect(try await catalog.vms(unprotectedOnly: true).count == 750)
            #expect(try await catalog.vms(host: "kvm3").count == 100)
        }
    }
}
