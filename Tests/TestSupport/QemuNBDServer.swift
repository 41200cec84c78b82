import Foundation

/// A qcow2 image served read-only by `qemu-nbd` on a unix socket: QEMU's own NBD server, as the agent uses it for
/// shut-off VMs.
public final class QemuNBDServer: @unchecked Sendable {
    public let socketPath: String
    public let exportName: String
    private let child: ChildProcess

    /// Serves `image` (qcow2) as `exportName`, exporting `bitmap` as `qemu:dirty-bitmap:<bitmap>` when given.
    public init(image: String, socketPath: String, exportName: String = "disk", bitmap: String? = nil) async throws {
        self.socketPath = socketPath
        self.exportName = exportName
        var arguments = ["--read-only", "--persistent", "--shared=16", "--format=qcow2", "--socket=\(socketPath)", "--export-name=\(exportName)"]
        if let bitmap { arguments.append("--bitmap=\(bitmap)") }
        child = try ChildProcess("qemu-nbd", arguments + [image])
        let child = self.child
        try await waitUntil("qemu-nbd to listen on \(socketPath)", seconds: 30) {
            guard child.isRunning else { throw TestFailure("qemu-nbd exited: \(child.wait().output)") }
            return FileManager.default.fileExists(atPath: socketPath)
        }
    }

    /// Kills the server at once, like a crash.
    public func kill() { child.kill() }

    deinit { child.kill() }
}
