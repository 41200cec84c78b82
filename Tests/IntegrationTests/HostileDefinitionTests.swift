import BulwarkAPI
import BulwarkCore
import Foundation
import Libvirt
import TestSupport
import Testing

extension IntegrationSuite {
    /// A point whose domain XML a hostile host wrote, restored by the real daemons: the domain libvirt ends up with
    /// holds none of the hostile parts, as a new VM or put back in place, and the job log names each.
    @Suite struct HostileDefinitionTests {
        /// What libvirt accepts in a definition and a restore must never define: QEMU arguments, a host folder, a
        /// host PCI device, confinement off, a CD-ROM of a host file, a NIC on a network the host does not have.
        static func hostile(_ xml: String, folder: String) -> String {
            xml.replacingOccurrences(
                of: "<domain type='qemu'>",
                with: "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
            ).replacingOccurrences(
                of: "</devices>",
                with: """
                    <disk type='file' device='cdrom'><source file='\(folder)/host-secret'/><target dev='hdc' bus='ide'/><readonly/></disk>
                    <filesystem type='mount' accessmode='passthrough'><source dir='\(folder)'/><target dir='hostfolder'/></filesystem>
                    <hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x00' slot='0x1f' function='0x7'/></source></hostdev>
                    <interface type='network'><source network='bulwark-no-such-network'/><model type='virtio'/></interface>
                    </devices>
                    <seclabel type='none'/>
                    <qemu:commandline><qemu:arg value='-msg'/><qemu:arg value='timestamp=on'/></qemu:commandline>
                    """)
        }

        /// Each hostile part as it would appear in a definition libvirt holds.
        static let hostileParts = [
            "qemu:commandline", "timestamp=on", "<hostdev", "<filesystem", "hostfolder", "seclabel type='none'",
            "device='cdrom'", "host-secret", "bulwark-no-such-network",
        ]

        /// Each hostile part as the job log names it.
        static let listedParts = [
            "<qemu:commandline>", "<hostdev mode='subsystem' type='pci'>", "<filesystem type='mount'>",
            "<seclabel type='none'", "<disk type='file' device='cdrom'> hdc", "network bulwark-no-such-network",
        ]

        private func recover(_ testbed: Testbed, _ request: RecoveryRequest) async throws -> (JobView, String) {
            let job: JobView = try await testbed.client.post("/v1/recover", request)
            let done = try await testbed.wait(job.id)
            let log = try await testbed.job(job.id).log?.map(\.message).joined(separator: "\n") ?? ""
            return (done, log)
        }

        @Test func aHostileDefinitionInAPointIsNeverDefined() async throws {
            let testbed = try await Testbed.start(chunkSize: "1M")
            defer { testbed.stop() }
            try await withGuest(on: testbed) { guest in
                let name = guest.name
                _ = try await testbed.protect(name)
                // The VM's persistent definition made hostile while it runs: the next sync commits it.
                let folder = guest.directory.path
                try "not for guests".write(toFile: guest.directory.file("host-secret"), atomically: true, encoding: .utf8)
                try await guest.hypervisor.run { connection in
                    let xml = try connection.domain(named: name).xml(inactive: true)
                    let hostile = Self.hostile(xml, folder: folder)
                    guard hostile != xml else { throw TestFailure("the guest's XML changed shape: \(xml)") }
                    try connection.defineDomain(xml: hostile)
                }
                let full = try await testbed.backup(name)
                #expect(full.state == .succeeded, "\(full.error ?? "")")
                let point = try #require(full.recoveryPoint)

                // 1. As a new VM: defined without any hostile part.
                let restored = guest.directory.file("restored")
                try FileManager.default.createDirectory(atPath: restored, withIntermediateDirectories: true)
                let copy = "\(name)-copy"
                defer {
                    _ = try? ChildProcess.run("virsh", ["-c", systemURI, "undefine", copy, "--nvram"])
                }
                let (job, log) = try await recover(
                    testbed, RecoveryRequest(vm: "\(testbed.host)/\(name)", point: point, toHost: testbed.host, path: restored, name: copy))
                #expect(job.state == .succeeded, "\(job.error ?? "")\n\(testbed.diagnostics())")
                let defined = try await guest.hypervisor.run { try $0.domain(named: copy).xml(inactive: true) }
                for part in Self.hostileParts {
                    #expect(!defined.contains(part), "the new VM's definition holds \(part):\n\(defined)")
                }
                #expect(defined.contains("\(restored)/\(copy)-vda.qcow2") && defined.contains("<serial type='pty'>"), "\(defined)")
                for part in Self.listedParts + ["<serial type='file'> \(guest.consoleLog) (made a pty)"] {
                    #expect(log.contains(part), "the job log does not list \(part) as left out:\n\(log)")
                }
                try await guest.hypervisor.run { try $0.domain(named: copy).undefine() }

                // 2. In place, the VM running: stopped, its disks written back, defined without the hostile parts
                // but with its own kernel and console log, and started again.
                let (back, backLog) = try await recover(
                    testbed, RecoveryRequest(vm: "\(testbed.host)/\(name)", point: point, to: "original", shutdownTimeout: 1))
                #expect(back.state == .succeeded, "\(back.error ?? "")\n\(testbed.diagnostics())")
                let now = try await guest.hypervisor.run { connection -> (String, Bool) in
                    let domain = try connection.domain(named: name)
                    return (try domain.xml(inactive: true), try domain.state().isActive)
                }
                for part in Self.hostileParts {
                    #expect(!now.0.contains(part), "the restored definition holds \(part):\n\(now.0)")
                }
                #expect(now.0.contains("<kernel>") && now.0.contains(guest.consoleLog), "the host's own files are kept:\n\(now.0)")
                #expect(now.1, "the VM runs again")
                for part in Self.listedParts {
                    #expect(backLog.contains(part), "the job log does not list \(part) as left out:\n\(backLog)")
                }
                // Protection restarts with a consistency check, queued by the restore: let it end before cleanup.
                let jobs: [JobView] = try await testbed.client.get("/v1/jobs?vm=\(testbed.host)/\(name)")
                if let check = jobs.first(where: { $0.kind == "consistency-check" }) {
                    let checked = try await testbed.wait(check.id)
                    #expect(checked.state == .succeeded, "\(checked.error ?? "")")
                }
            }
        }
    }
}
