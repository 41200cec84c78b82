/// One finding of `bulwark-agent doctor`: what was checked, how it came out, and what to do about it.
public struct HostCheck: Sendable, Hashable, Codable {
    /// How a check came out. Only `fail` makes the host unfit; `warn` works with less (no incremental syncs, no
    /// quiescing) or needs attention soon.
    public enum Status: String, Sendable, Hashable, Codable {
        case ok, warn, fail

        /// The word the text output starts a line with, padded so messages line up.
        public var label: String {
            switch self {
            case .ok: "ok  "
            case .warn: "WARN"
            case .fail: "FAIL"
            }
        }
    }

    public var status: Status
    /// What was checked and what was found, e.g. `VM web1: disk vda is qcow2 v3`.
    public var message: String
    /// What to do about it; nil when there is nothing to do.
    public var fix: String?

    public init(_ status: Status, _ message: String, fix: String? = nil) {
        self.status = status
        self.message = message
        self.fix = status == .ok ? nil : fix
    }
}
