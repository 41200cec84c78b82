import ArgumentParser
import Foundation
import Libvirt

/// `bulwark-agent doctor`: checks that this host can be protected, and says what to fix.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check this host's prerequisites for Bulwark and say what to fix.",
        discussion: """
            Checks that libvirt answers on the given URI, that libvirt is at least 7.6 and QEMU at least 6.1 \
            (incremental backup through checkpoints), and that the domain capabilities report backup support. \
            Exits 0 when every check passes, 1 otherwise.
            """)

    @Option(name: .long, help: "The libvirt URI to check.")
    var libvirt = "qemu:///system"

    func run() async throws {
        var failures = 0
        func report(_ ok: Bool, _ what: String, fix: String) {
            print("\(ok ? "ok  " : "FAIL") \(what)")
            if !ok {
                print("     fix: \(fix)")
                failures += 1
            }
        }
        let hypervisor: Hypervisor
        do {
            hypervisor = try await Hypervisor.open(uri: libvirt)
        } catch {
            report(false, "connect to \(libvirt): \(error.message)", fix: "start libvirtd (`libvirtd -d`) and check the URI")
            throw ExitCode(1)
        }
        report(true, "connect to \(libvirt)", fix: "")
        let facts = try await hypervisor.run { connection in
            (
                try connection.libvirtVersion(), try connection.hypervisorVersion(),
                try connection.domainCapabilities()
            )
        }
        report(facts.0 >= Version(major: 7, minor: 6), "libvirt \(facts.0) (need 7.6 or later)",
               fix: "upgrade libvirt to 7.6 or later for checkpoints and pull-mode backup")
        report(facts.1 >= Version(major: 6, minor: 1), "QEMU \(facts.1) (need 6.1 or later)",
               fix: "upgrade QEMU to 6.1 or later for persistent dirty bitmaps in backup jobs")
        report(facts.2.contains("<backup supported='yes'/>"), "domain capabilities report backup support",
               fix: "use a QEMU and libvirt build with incremental backup enabled")
        if failures > 0 { throw ExitCode(1) }
    }
}
