internal import CLibvirt
import Foundation

/// Process-wide libvirt set-up, done once before the first connection opens.
///
/// Libvirt needs an event loop for domain events and for keepalive on remote connections, and that loop must be
/// registered before any connection is opened. Its default error handler prints every error to stderr; Bulwark
/// reports errors itself, so the handler is silenced.
enum LibvirtRuntime {
    private static let initialized: Bool = {
        guard virInitialize() == 0 else { return false }
        virSetErrorFunc(nil, { _, _ in })
        guard virEventRegisterDefaultImpl() == 0 else { return false }
        let thread = Thread {
            while true {
                if virEventRunDefaultImpl() < 0 { virResetLastError() }
            }
        }
        thread.name = "libvirt-events"
        thread.start()
        return true
    }()

    static func ensureInitialized() throws(LibvirtError) {
        guard initialized else {
            throw LibvirtError(
                code: .internalError, message: "libvirt could not be initialized (virInitialize failed)",
                operation: "virInitialize")
        }
    }
}
