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
            machines to the Bulwark server and runs backup and restore tasks for it. Enrolling with a server and \
            running tasks arrive with the agent issue; today the agent can check a host (doctor) and list what \
            it would protect (inventory).
            """,
        version: BulwarkVersion.current,
        subcommands: [Doctor.self, Inventory.self])
}
