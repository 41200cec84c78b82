import Libvirt

/// The agent's libvirt connection, opened again when libvirtd went away (restarted, upgraded): a task or an
/// inventory report after the restart gets a live connection instead of failing until the agent is restarted.
actor HypervisorSource {
    let uri: String
    private var current: Hypervisor?

    init(uri: String, connected: Hypervisor? = nil) {
        self.uri = uri
        self.current = connected
    }

    /// A live connection: the current one while libvirtd answers on it, a new one otherwise.
    func get() async throws(AgentError) -> Hypervisor {
        if let current, await current.isAlive() { return current }
        current = nil
        do {
            let opened = try await Hypervisor.open(uri: uri)
            current = opened
            return opened
        } catch {
            throw AgentError(
                .libvirt, "cannot connect to libvirt at \(uri): \(error.message); is libvirtd running?", cause: error)
        }
    }
}
