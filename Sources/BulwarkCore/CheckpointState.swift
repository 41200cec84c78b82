/// What the catalog knows about a libvirt checkpoint it recorded. Raw values are stored: never change them.
public enum CheckpointState: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// The newest checkpoint of the VM: the next incremental sync starts from it, after checking it on the host.
    case current
    /// An older checkpoint, kept until the agent deletes it from the domain.
    case superseded
    /// Found missing or inconsistent on the host: the next sync runs as a consistency check.
    case invalid

    public var description: String { rawValue }
}
