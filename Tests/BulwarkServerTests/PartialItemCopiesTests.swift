import Foundation
import Logging
import Testing

@testable import BulwarkServer

/// An item-level copy bulwarkd died in the middle of is removed at the next start, and nothing that was in the
/// target folder before the job is touched.
@Suite struct PartialItemCopiesTests {
    @Test func whatADeadCopyMadeGoesAndWhatWasThereStays() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("partial-items-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let target = "\(root)/target"
        try FileManager.default.createDirectory(atPath: "\(root)/data", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        // The user's own file, which the job's item happens to share a name with: the copy would have refused it.
        try Data("mine".utf8).write(to: URL(fileURLWithPath: "\(target)/hosts"))
        let ledger = PartialItemCopies(dataDirectory: ServerDataDirectory(path: "\(root)/data"))
        try ledger.record(job: "job-1", target: target, names: ["hosts", "etc", "web1-vda.qcow2"])

        // What the job made before bulwarkd died: a folder half filled, no disk image yet.
        try FileManager.default.createDirectory(atPath: "\(target)/etc/ssh", withIntermediateDirectories: true)
        try Data("half".utf8).write(to: URL(fileURLWithPath: "\(target)/etc/ssh/sshd_config"))
        try Data("other".utf8).write(to: URL(fileURLWithPath: "\(target)/unrelated"))

        ledger.cleanUp(logger: Logger(label: "test"))
        #expect(!FileManager.default.fileExists(atPath: "\(target)/etc"))
        #expect(FileManager.default.contents(atPath: "\(target)/hosts") == Data("mine".utf8))
        #expect(FileManager.default.fileExists(atPath: "\(target)/unrelated"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: ledger.folder).isEmpty)
        // A second start finds nothing to do.
        ledger.cleanUp(logger: Logger(label: "test"))
        #expect(FileManager.default.contents(atPath: "\(target)/hosts") == Data("mine".utf8))
    }

    @Test func aFinishedCopyIsTheUsers() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("partial-items-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let target = "\(root)/target"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let ledger = PartialItemCopies(dataDirectory: ServerDataDirectory(path: root))
        try ledger.record(job: "job-2", target: target, names: ["etc"])
        try FileManager.default.createDirectory(atPath: "\(target)/etc", withIntermediateDirectories: true)
        ledger.forget(job: "job-2")
        ledger.cleanUp(logger: Logger(label: "test"))
        #expect(FileManager.default.fileExists(atPath: "\(target)/etc"))
    }
}
