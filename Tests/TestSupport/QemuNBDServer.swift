import Foundation

/// A qcow2 image served read-only by `qemu-nbd`: QEMU's own NBD server, as the agent uses it for shut-off VMs.
public final class QemuNBDServer: @unchecked Sendable {
    public let socketPath: String
    public let exportName: String
    private let child: ChildProcess

    /// Serves `image` (qcow2) as `exportName` on a unix socket, exporting `bitmap` as `qemu:dirty-bitmap:<bitmap>`
    /// when given.
    public init(image: String, socketPath: String, exportName: String = "disk", bitmap: String? = nil) async throws {
        self.socketPath = socketPath
        self.exportName = exportName
        child = try Self.start(image: image, exportName: exportName, bitmap: bitmap, listen: ["--socket=\(socketPath)"])
        let child = self.child
        try await waitUntil("qemu-nbd to listen on \(socketPath)", seconds: 30) {
            guard child.isRunning else { throw TestFailure("qemu-nbd exited: \(child.wait().output)") }
            return FileManager.default.fileExists(atPath: socketPath)
        }
    }

    /// Serves `image` (qcow2) as `exportName` over TCP on 127.0.0.1:`port`; ready once `probe` stops throwing.
    public init(image: String, tcpPort port: Int, exportName: String = "disk", probe: () throws -> Void) async throws {
        self.socketPath = ""
        self.exportName = exportName
        child = try Self.start(
            image: image, exportName: exportName, bitmap: nil, listen: ["--bind=127.0.0.1", "--port=\(port)"])
        let child = self.child
        try await waitUntil("qemu-nbd to listen on 127.0.0.1:\(port)", seconds: 30) {
            guard child.isRunning else { throw TestFailure("qemu-nbd exited: \(child.wait().output)") }
            return (try? probe()) != nil
        }
    }

    private static func start(image: String, exportName: String, bitmap: String?, listen: [String]) throws -> ChildProcess {
        // --shared: qemu-nbd serves one client at a time by default; tests open several connections.
        var arguments = ["--read-only", "--persistent", "--shared=16", "--format=qcow2", "--export-name=\(exportName)"]
        if let bitmap { arguments.append("--bitmap=\(bitmap)") }
        return try ChildProcess("qemu-nbd", arguments + listen + [image])
    }

    /// Kills the server at once, like a crash.
    public func kill() { child.kill() }

    deinit { child.kill() }
}
