/// A failure of the agent, with a message that names the VM, disk and host involved and says how to fix it.
public struct AgentError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure. Open set: new codes are added as static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }

        /// The state directory is missing, incomplete or unreadable (not enrolled?).
        public static let notEnrolled = Code("not-enrolled")
        /// Invalid input: an option, a token, a configuration value.
        public static let invalid = Code("invalid")
        /// The server could not be reached, or failed (5xx): worth retrying.
        public static let unreachable = Code("unreachable")
        /// The server refused the agent's certificate or token.
        public static let unauthorized = Code("unauthorized")
        /// The server does not know what the call names (a task, a VM).
        public static let notFound = Code("not-found")
        /// The server refused the call (4xx other than the above).
        public static let rejected = Code("rejected")
        /// libvirt refused or failed.
        public static let libvirt = Code("libvirt")
        /// Reading a disk over NBD failed.
        public static let nbd = Code("nbd")
        /// The guest could not be quiesced and the policy requires it.
        public static let quiesceRequired = Code("quiesce-required")
        /// The task was cancelled by an admin.
        public static let cancelled = Code("cancelled")
        /// The server refused a commit because a chunk it names is gone from the datastore; a new try sends it.
        public static let chunkMissing = Code("chunk-missing")
        /// A local file or process failed (scratch space, qemu-nbd).
        public static let local = Code("local")

        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// Whether trying again later may succeed (the server was unreachable or failed).
    public var isTransient: Bool { code == .unreachable }

    public var description: String {
        cause.map { "\(message) (\($0))" } ?? message
    }
}
