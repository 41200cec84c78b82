/// A VM's power state as its agent last reported it (libvirt's domain states). An open set.
public struct VMState: OpenStringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let running: VMState = "running"
    public static let blocked: VMState = "blocked"
    public static let paused: VMState = "paused"
    public static let shuttingDown: VMState = "shutting-down"
    public static let shutOff: VMState = "shut-off"
    public static let crashed: VMState = "crashed"
    public static let suspended: VMState = "suspended"
    /// The VM's host stopped reporting it (moved away, undefined, or the host was removed).
    public static let missing: VMState = "missing"
    public static let unknown: VMState = "unknown"
}
