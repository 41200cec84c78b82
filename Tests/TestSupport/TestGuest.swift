import Foundation
public import Libvirt

/// The tiny guest kit `Agents/kvm/testbed/setup-host` builds: a Debian kernel, a busybox initramfs with the QEMU
/// guest agent, and a GPT disk with an ext4 filesystem of known files.
public struct TestbedKit: Sendable {
    /// The GPT disk with an ext4 filesystem of known files (see the kit's README).
    public var dataDisk: String

    /// Reads `kit.env` from `BULWARK_TESTBED_DIR` (default `/var/cache/bulwark-testbed`).
    public static func load() throws -> TestbedKit {
        let dir = ProcessInfo.processInfo.environment["BULWARK_TESTBED_DIR"] ?? "/var/cache/bulwark-testbed"
        guard let text = try? String(contentsOfFile: "\(dir)/kit.env", encoding: .utf8) else {
            throw TestFailure("no guest kit in \(dir): run Agents/kvm/testbed/setup-host (scripts/setup does)")
        }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        guard let dataDisk = values["BULWARK_TESTBED_DATA_DISK"] else {
            throw TestFailure("\(dir)/kit.env is incomplete: run Agents/kvm/testbed/setup-host again")
        }
        return TestbedKit(dataDisk: dataDisk)
    }
}

/// A tiny guest booted under the real libvirtd for one test: its own name, disks and console log, all removed by
/// ``remove()``.
///
/// Disks: `vda`, a blank 64 MiB qcow2 for block-level tests; `vdb`, a copy of the kit's GPT/ext4 data disk.
public final class TestGuest: Sendable {
    public let name: String
    public let hypervisor: Hypervisor
    public let directory: TemporaryDirectory

    public var vdaPath: String { directory.file("vda.qcow2") }
    public var vdbPath: String { directory.file("vdb.qcow2") }
    public var consoleLog: String { directory.file("console.log") }

    private init(name: String, hypervisor: Hypervisor, directory: TemporaryDirectory) {
        self.name = name
        self.hypervisor = hypervisor
        self.directory = directory
    }

    /// Defines and starts a guest, and waits until its init says `BULWARK-READY`.
    ///
    /// `kernelArguments` follow the kit's contract: `bulwark.write=DEV:OFFSET_KIB:LEN_KIB:BYTEHEX[,...]`,
    /// `bulwark.mount=vdb1`, `bulwark.agent=0`. `dataDisk` replaces the kit's GPT/ext4 disk as `vdb` (a qcow2).
    public static func boot(
        on hypervisor: Hypervisor, kernelArguments: [String] = [], dataDisk: String? = nil
    ) async throws -> TestGuest {
        let kit = try TestbedKit.load()
        let directory = try TemporaryDirectory("bulwark-guest")
        let name = "bulwark-test-\(UUID().uuidString.prefix(8).lowercased())"
        let guest = TestGuest(name: name, hypervisor: hypervisor, directory: directory)
        do {
            try ChildProcess.run("qemu-img", ["create", "-q", "-f", "qcow2", guest.vdaPath, "64M"])
            try FileManager.default.copyItem(atPath: dataDisk ?? kit.dataDisk, toPath: guest.vdbPath)
            let xml = try guest.domainXML(kernelArguments: kernelArguments)
            try await hypervisor.run { connection in try connection.defineDomain(xml: xml).start() }
            try await guest.waitUntilReady(count: 1)
            if !kernelArguments.contains("bulwark.agent=0") { try await guest.waitForGuestAgent() }
        } catch {
            await guest.remove()
            throw error
        }
        return guest
    }

    /// Waits until the console shows `BULWARK-READY` `count` times (once per boot), failing early when init
    /// reports `BULWARK-FAILED` or QEMU stops.
    public func waitUntilReady(count: Int) async throws {
        let log = consoleLog
        try await waitUntil("guest \(name) to boot (console: \(log))", seconds: 180) {
            let text = (try? String(contentsOfFile: log, encoding: .isoLatin1)) ?? ""
            if text.contains("BULWARK-FAILED") { throw TestFailure("guest init failed; console:\n\(text)") }
            return text.components(separatedBy: "BULWARK-READY").count - 1 >= count
        }
    }

    /// Waits until libvirt sees the guest agent connected: the guest starts it before `BULWARK-READY`, but libvirt
    /// learns of the connection a little later.
    public func waitForGuestAgent() async throws {
        let name = self.name
        try await waitUntil("the guest agent of \(name) to answer", seconds: 120) {
            try await hypervisor.run { try $0.domain(named: name).isGuestAgentAnswering(timeout: 5) }
        }
    }

    /// The PID of the guest's QEMU process, from libvirt's pid file.
    public func qemuPID() throws -> Int32 {
        let path = "/run/libvirt/qemu/\(name).pid"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { throw TestFailure("no QEMU pid file at \(path)") }
        return pid
    }

    /// Runs a program inside the guest through the guest agent's `guest-exec` and returns its exit code and output.
    public func exec(_ path: String, _ arguments: [String]) async throws -> (exitCode: Int, output: String) {
        let name = self.name
        let command: [String: Any] = ["execute": "guest-exec", "arguments": ["path": path, "arg": arguments, "capture-output": true]]
        let request = String(decoding: try JSONSerialization.data(withJSONObject: command), as: UTF8.self)
        let reply = try await hypervisor.run { try $0.domain(named: name).guestAgentCommand(request, timeout: 10) }
        guard let pid = (Self.json(reply)["return"] as? [String: Any])?["pid"] as? Int else {
            throw TestFailure("guest-exec gave no pid: \(reply)")
        }
        var status: [String: Any] = [:]
        try await waitUntil("\(path) to finish in guest \(name)", seconds: 60) {
            let poll = #"{"execute":"guest-exec-status","arguments":{"pid":\#(pid)}}"#
            let reply = try await self.hypervisor.run { try $0.domain(named: name).guestAgentCommand(poll, timeout: 10) }
            status = (Self.json(reply)["return"] as? [String: Any]) ?? [:]
            return status["exited"] as? Bool == true
        }
        let output = (status["out-data"] as? String).flatMap { Data(base64Encoded: $0) }.map {
            String(decoding: $0, as: UTF8.self)
        } ?? ""
        return (status["exitcode"] as? Int ?? -1, output)
    }

    /// Stops and undefines the domain (with its checkpoint metadata) and deletes its files. Never throws: cleanup
    /// must not hide the test's own failure.
    public func remove() async {
        let name = self.name
        // A test may have restarted libvirtd under the guest's connection: clean up through a new one then.
        var hypervisor = self.hypervisor
        if await !hypervisor.isAlive(), let fresh = try? await Hypervisor.open(uri: hypervisor.uri) {
            hypervisor = fresh
        }
        _ = try? await hypervisor.run { connection in
            guard let domain = try? connection.domain(named: name) else { return }
            if (try? domain.state().isActive) == true { try? domain.destroy() }
            try? domain.undefine()
        }
        directory.cleanUp()
    }

    /// The domain XML from the kit's `guest-xml`, the one definition of the test guest.
    private func domainXML(kernelArguments: [String]) throws -> String {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Agents/kvm/testbed/guest-xml").path
        return try ChildProcess.run(script, [name, directory.path] + kernelArguments)
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }
}
