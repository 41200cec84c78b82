/// The run state of a domain (`virDomainState`).
public enum DomainState: Int32, Sendable, Hashable, CustomStringConvertible, Codable {
    case noState = 0
    case running = 1
    case blocked = 2
    case paused = 3
    case shuttingDown = 4
    case shutOff = 5
    case crashed = 6
    case suspended = 7

    /// Whether QEMU is running for this domain, so that live operations (checkpoints, backup jobs) are possible.
    public var isActive: Bool {
        switch self {
        case .running, .blocked, .paused, .shuttingDown, .suspended: true
        case .noState, .shutOff, .crashed: false
        }
    }

    public var description: String {
        switch self {
        case .noState: "no state"
        case .running: "running"
        case .blocked: "blocked"
        case .paused: "paused"
        case .shuttingDown: "shutting down"
        case .shutOff: "shut off"
        case .crashed: "crashed"
        case .suspended: "suspended"
        }
    }
}

/// What a domain listing reports about one domain.
public struct DomainSummary: Sendable, Hashable, Codable {
    public var name: String
    /// The libvirt UUID, lower-case with dashes: a VM's identity across hosts and renames.
    public var uuid: String
    public var state: DomainState
    public var isPersistent: Bool

    public init(name: String, uuid: String, state: DomainState, isPersistent: Bool) {
        self.name = name
        self.uuid = uuid
        self.state = state
        self.isPersistent = isPersistent
    }
}
