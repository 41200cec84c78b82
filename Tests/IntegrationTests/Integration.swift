import Foundation
import Libvirt
import TestSupport
import Testing

/// Whether the integration suite runs: it needs the real libvirtd and the guest kit, which `scripts/test` sets up.
let integrationEnabled = ProcessInfo.processInfo.environment["BULWARK_INTEGRATION"] == "1"

/// The integration suite: real libvirtd, real QEMU guests. Its suites run one after another, because guests under
/// TCG on two cores boot slowly enough when alone.
@Suite(.serialized, .enabled(if: integrationEnabled, "set BULWARK_INTEGRATION=1 (scripts/test does)"))
enum IntegrationSuite {}

/// The libvirt URI of the real daemon the suite runs against.
let systemURI = ProcessInfo.processInfo.environment["BULWARK_LIBVIRT_URI"] ?? "qemu:///system"

/// Boots a guest, runs `body`, and removes the guest whatever happened.
func withGuest<T>(
    kernelArguments: [String] = [], dataDisk: String? = nil, _ body: (TestGuest) async throws -> T
) async throws -> T {
    let hypervisor = try await Hypervisor.open(uri: systemURI)
    let guest = try await TestGuest.boot(on: hypervisor, kernelArguments: kernelArguments, dataDisk: dataDisk)
    do {
        let result = try await body(guest)
        await guest.remove()
        return result
    } catch {
        await guest.remove()
        throw error
    }
}

let kib: UInt64 = 1024
let mib: UInt64 = 1024 * 1024

extension Domain {
    /// Writes `length` bytes of `byte` at `offset` of the disk aliased `virtio-disk<index>` through QEMU's own
    /// block layer (HMP `qemu-io`): exact to the byte, no guest OS involved.
    func qemuIOWrite(diskIndex: Int = 0, byte: UInt8, offset: String, length: String) throws {
        let device = "/machine/peripheral/virtio-disk\(diskIndex)/virtio-backend"
        let pattern = "0x" + String(byte, radix: 16)
        let reply = try monitorCommand(
            "qemu-io -d \(device) \"write -P \(pattern) \(offset) \(length)\"", humanMonitor: true)
        // HMP answers an empty string when qemu-io succeeded quietly; anything else but its "wrote" line is an error.
        let text = reply.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.isEmpty || text.contains("wrote") else { throw TestFailure("qemu-io write failed: \(reply)") }
    }
}
