import Foundation
import Libvirt
import Testing

/// Throwaway domains on libvirt's built-in test driver, which runs inside this process without a daemon.
///
/// All `test:///default` connections of one process share a single state for as long as any of them is open, and
/// the suites run in parallel, so every test uses domains of its own with unique names and never changes the
/// driver's stock domain `test`.
enum TestDriver {
    static let uri = "test:///default"

    /// The stock domain every `test:///default` state starts with, running.
    static let stockDomainName = "test"
    static let stockDomainUUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"

    /// A name no other test uses.
    static func uniqueName(_ prefix: String) -> String {
        "bulwark-\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// A minimal definition the test driver accepts: one qcow2 virtio disk `vda`, one raw sata disk `sda`.
    static func domainXML(name: String, uuid: String? = nil) -> String {
        """
        <domain type='test'>
          <name>\(name)</name>
          \(uuid.map { "<uuid>\($0)</uuid>" } ?? "")
          <memory unit='MiB'>128</memory>
          <os><type>hvm</type></os>
          <devices>
            <disk type='file' device='disk'>
              <driver name='qemu' type='qcow2'/>
              <source file='/guest/\(name).qcow2'/>
              <target dev='vda' bus='virtio'/>
            </disk>
            <disk type='file' device='disk'>
              <driver name='qemu' type='raw'/>
              <source file='/guest/\(name)-data.img'/>
              <target dev='sda' bus='sata'/>
            </disk>
          </devices>
        </domain>
        """
    }

    /// Defines a domain (started when `running`), runs `body` with it, then stops it and tries to undefine it.
    ///
    /// The undefine fails on the test driver for now (see `undefinesADomainWithoutCheckpoints`); the leftover
    /// definitions have unique names and vanish with the process.
    static func withDomain<T>(
        on connection: Connection, running: Bool = false, prefix: String = "vm", _ body: (Domain) throws -> T
    ) throws -> T {
        let domain = try connection.defineDomain(xml: domainXML(name: uniqueName(prefix)))
        defer {
            if (try? domain.state().isActive) == true { try? domain.destroy() }
            try? domain.undefine()
        }
        if running { try domain.start() }
        return try body(domain)
    }
}

/// Whether `text` is a UUID in libvirt's lower-case, dashed form.
func isLowercaseUUID(_ text: String) -> Bool {
    text.wholeMatch(of: /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/) != nil
}
