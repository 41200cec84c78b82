import ArgumentParser
import BulwarkCore

/// `bulwark-agent`: the protection agent that runs on every KVM host.
@main
struct BulwarkAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bulwark-agent",
        abstract: "Bulwark's protection agent for a KVM host.",
        discussion: """
            The agent talks to the local libvirt daemon through the libvirt C API, reports the host's virtual \
            machines to the Bulwark server and runs backup and restore tasks for it.

            Setting up a host: `bulwark-agent doctor` says what to fix; `bulwark-agent enroll --server URL \
            --token TOKEN` (the line `bulwark agent token` prints on the server) gets the host its certificate; \
            `bulwark-agent run` is the daemon (the systemd unit in Agents/kvm runs it); `bulwark-agent inventory` \
            lists what it would protect.
            """,
        version: BulwarkVersion.current,
        subcommands: [
            Enroll.self,
            Run.self,
            Doctor.self,
            Inventory.self,
        ])
}
