import BulwarkStore
import Foundation
import TestSupport
import Testing

/// Copies of the server's catalog kept in a datastore, for a server rebuilt without its data directory.
@Suite struct CatalogCopyTests {
    @Test func theNewestThreeAreKeptInTimeOrderAndGarbageCollectionLeavesThemAlone() throws {
        try withDatastore { store, folder in
            let source = folder.file("snapshot.sqlite")
            try writeFile(source, Array("SQLite format 3\0 pretend".utf8))
            let start = Date(timeIntervalSince1970: 1_800_000_000.123)
            for hour in 0..<5 {
                try store.storeCatalogCopy(from: source, takenAt: start.addingTimeInterval(Double(hour) * 3600))
            }
            let copies = try store.catalogCopies()
            #expect(copies.count == Datastore.catalogCopiesKept)
            // To the millisecond, as the names keep them.
            #expect(copies.map { Int64(($0.takenAt.timeIntervalSince1970 * 1000).rounded()) } == [2, 3, 4].map { 1_800_000_000_123 + $0 * 3_600_000 })
            #expect(copies.last?.name == "catalog-20270115T120000.123Z.sqlite")
            let newest = try #require(try store.newestCatalogCopy())
            let (copied, original) = (try fileBytes(newest), try fileBytes(source))
            #expect(copied == original)

            let report = try store.collectGarbage(gracePeriod: .zero)
            #expect(report.temporaryFilesRemoved == 0)
            #expect(try store.catalogCopies().count == 3)
            #expect(try store.verify().damagedPoints.isEmpty)
        }
    }

    @Test func anEmptyOrMissingSnapshotIsRefused() throws {
        try withDatastore { store, folder in
            let missing = datastoreError { try store.storeCatalogCopy(from: folder.file("nothing"), takenAt: Date()) }
            #expect(missing?.code == .invalidArgument)
            let copies = try store.catalogCopies()
            #expect(copies.isEmpty)
        }
    }
}
