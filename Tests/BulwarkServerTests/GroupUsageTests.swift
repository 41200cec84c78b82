import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import Foundation
import Testing

/// `GET /v1/groups/{name}` states the space the group's points use and what its policy will need.
@Suite struct GroupUsageTests {
    @Test func usedSpaceAndAllocationEstimate() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            // Before any point: the disks' capacity stands for the data, with the assumed daily change.
            let capacity = Int64(fleet.vda.image.count + fleet.vdb.image.count)
            let empty: GroupView = try await fleet.admin.get("/v1/groups/gold")
            let before = try #require(empty.usage)
            #expect(before.storedBytes == 0 && !before.measured)
            #expect(before.dailyChangeBytes == Int64(Double(capacity) * 0.05))
            #expect(before.estimatedBytes == capacity + before.dailyChangeBytes * 10)

            // A 1 GiB full two days ago, then 100 MiB a day: 1 GiB + 10 days × 100 MiB.
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let gold = try ResourceName("gold", field: "group")
            let main = try ResourceName("main", field: "datastore")
            let now = Date()
            for (daysAgo, stored) in [(2.0, Int64(1) << 30), (1.0, Int64(100) << 20), (0.0, Int64(100) << 20)] {
                let created = now.addingTimeInterval(-daysAgo * 86_400)
                try await catalog.insertRecoveryPoint(
                    NewRecoveryPoint(
                        vmUUID: fleet.web1, group: gold, datastore: main, createdAt: created, syncKind: .full,
                        consistency: .crashConsistent, logicalBytes: capacity, storedBytes: stored, transferredBytes: stored,
                        retainUntil: created.addingTimeInterval(86_400 * 10)))
            }
            let view: GroupView = try await fleet.admin.get("/v1/groups/gold")
            let usage = try #require(view.usage)
            #expect(usage.storedBytes == (1 << 30) + (200 << 20) && usage.measured)
            let daily = Double(usage.dailyChangeBytes)
            #expect(abs(daily - Double(100 << 20)) < 1024.0, "\(usage)")
            #expect(abs(Double(usage.estimatedBytes) - Double((1 << 30) + 10 * (100 << 20))) < 16384.0, "\(usage)")
        }
    }
}
