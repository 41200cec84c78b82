internal import CLibvirt
import Foundation

extension Domain {
    /// Sends a JSON command to the QEMU guest agent inside the domain and returns its JSON reply.
    ///
    /// `timeout` is in seconds; libvirt fails with `agentUnresponsive` when no agent answers in time.
    public func guestAgentCommand(_ json: String, timeout: Int32 = 5) throws(LibvirtError) -> String {
        guard let reply = virDomainQemuAgentCommand(handle, json, timeout, 0) else {
            throw LibvirtError.last("virDomainQemuAgentCommand", subject: subject)
        }
        defer { free(reply) }
        return String(cString: reply)
    }

    /// Whether a QEMU guest agent answers `guest-ping` within `timeout` seconds.
    ///
    /// Only "no agent" outcomes count as `false`; anything else (the domain is gone, the connection broke) throws,
    /// so that a broken host is not mistaken for a guest without an agent.
    public func isGuestAgentAnswering(timeout: Int32 = 5) throws(LibvirtError) -> Bool {
        do {
            _ = try guestAgentCommand(#"{"execute":"guest-ping"}"#, timeout: timeout)
            return true
        } catch {
            switch error.code {
            case .agentUnresponsive, .agentUnsynced, .argumentUnsupported, .operationUnsupported, .operationInvalid:
                return false
            default:
                throw error
            }
        }
    }

    /// Sends a command to the QEMU monitor (QMP JSON, or HMP text when `humanMonitor` is set).
    ///
    /// Meant for tests and diagnostics: libvirt marks domains touched this way as "tainted".
    public func monitorCommand(_ command: String, humanMonitor: Bool = false) throws(LibvirtError) -> String {
        var reply: UnsafeMutablePointer<CChar>?
        let flags = humanMonitor ? VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP.rawValue : 0
        guard virDomainQemuMonitorCommand(handle, command, &reply, flags) == 0 else {
            throw LibvirtError.last("virDomainQemuMonitorCommand", subject: subject)
        }
        defer { free(reply) }
        return reply.map { String(cString: $0) } ?? ""
    }
}
