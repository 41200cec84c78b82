@testable import BulwarkAgent
import BulwarkAPI
import BulwarkCore
import Foundation
import TestSupport
import Testing

/// The agent checks what a task names before any of it reaches a path on the host.
@Suite struct TaskCheckTests {
    static func task(
        id: String = JobID.generate().description, vmName: String = "web1", chunkSize: Int = 4 << 20,
        basePoint: String? = nil, baseTarget: String = "vda", restore: AgentRestore? = nil
    ) -> AgentTask {
        AgentTask(
            id: id, command: restore == nil ? .sync : .restore, vmUUID: UUID(), vmName: vmName, requestedAt: Date(),
            startAt: Date(), chunkSize: chunkSize, quiesce: .auto, expressFull: false,
            base: basePoint.map { .init(pointID: $0, disks: [.init(target: baseTarget, logicalSize: 1 << 20)], checkpoint: nil) },
            restore: restore)
    }

    static func restore(
        folder: String?, name: String? = "web1-copy", target: String = "vda", point: String = RecoveryPointID.generate().description
    ) -> AgentRestore {
        AgentRestore(
            pointID: point, pointCreatedAt: Date(), domainXML: "<domain/>",
            disks: [.init(target: target, logicalSize: 1 << 20, dataBytes: 0)], mode: "alternate", folder: folder,
            name: name, uuid: UUID(), format: "qcow2", start: false, shutdownTimeout: 60, throttle: nil)
    }

    @Test func aWellFormedTaskPasses() throws {
        try TaskCheck.validate(Self.task(basePoint: RecoveryPointID.generate().description), restoreRoots: [])
        try TaskCheck.validate(Self.task(restore: Self.restore(folder: "/var/lib/libvirt/images")), restoreRoots: [])
    }

    @Test(arguments: [
        (task(id: "../../etc"), "not a job id"),
        (task(vmName: "a/b"), "not a libvirt VM name"),
        (task(vmName: ".."), "not a libvirt VM name"),
        (task(vmName: "web\u{1b}[2J"), "\\u{1B}"),
        (task(chunkSize: 3 << 20), "chunk size"),
        (task(basePoint: "../x"), "not a point id"),
        (task(basePoint: RecoveryPointID.generate().description, baseTarget: "../vda"), "not a disk target"),
        (task(restore: restore(folder: "/srv/../etc")), "not a plain absolute path"),
        (task(restore: restore(folder: "relative/folder")), "not a plain absolute path"),
        (task(restore: restore(folder: "/srv//vms")), "not a plain absolute path"),
        (task(restore: restore(folder: "/srv", name: "../../etc/cron.d/x")), "not a libvirt VM name"),
        (task(restore: restore(folder: "/srv", target: "vda/../../x")), "not a disk target"),
        (task(restore: restore(folder: "/srv", point: "x")), "not a point id"),
    ])
    func badValuesAreRefusedNamingTheField(task: AgentTask, fragment: String) {
        let error = #expect(throws: AgentError.self) { try TaskCheck.validate(task, restoreRoots: []) }
        #expect(error?.code == .invalid)
        #expect(error?.message.contains(fragment) == true, "\(String(describing: error))")
    }

    @Test func restoresWriteOnlyUnderTheRestoreRootsAndThroughNoLink() throws {
        let folder = try TemporaryDirectory("restore-roots")
        defer { folder.cleanUp() }
        let root = folder.file("images")
        try FileManager.default.createDirectory(atPath: root + "/vms", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder.file("elsewhere"), withIntermediateDirectories: true)
        try TaskCheck.validateRestoreRoots([root])
        try TaskCheck.validate(Self.task(restore: Self.restore(folder: root + "/vms")), restoreRoots: [root])
        try TaskCheck.validate(Self.task(restore: Self.restore(folder: root)), restoreRoots: [root])

        let outside = #expect(throws: AgentError.self) {
            try TaskCheck.validate(Self.task(restore: Self.restore(folder: folder.file("elsewhere"))), restoreRoots: [root])
        }
        #expect(outside?.message.contains("outside the folders this agent restores into") == true)
        let prefix = #expect(throws: AgentError.self) {
            try TaskCheck.validate(Self.task(restore: Self.restore(folder: root + "-evil")), restoreRoots: [root])
        }
        #expect(prefix?.message.contains("outside") == true, "a folder that only starts with the root's name is outside")

        // A link inside the root that points out of it is refused, as the write would land outside.
        try FileManager.default.createSymbolicLink(atPath: root + "/escape", withDestinationPath: folder.file("elsewhere"))
        let link = #expect(throws: AgentError.self) {
            try TaskCheck.validate(Self.task(restore: Self.restore(folder: root + "/escape")), restoreRoots: [root])
        }
        #expect(link?.message.contains("symbolic link") == true, "\(String(describing: link))")

        #expect(throws: AgentError.self) { try TaskCheck.validateRestoreRoots(["relative"]) }
        #expect(throws: AgentError.self) { try TaskCheck.validateRestoreRoots([folder.file("missing")]) }
        #expect(throws: AgentError.self) { try TaskCheck.validateRestoreRoots([root + "/escape"]) }
    }
}
