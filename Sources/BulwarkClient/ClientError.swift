/// A failure of an admin CLI call, with the server's own message when it sent one.
public struct ClientError: Error, Sendable, CustomStringConvertible {
    /// What went wrong; decides the CLI's exit code.
    public struct Code: Hashable, Sendable {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }

        /// No server, token or CA could be found, or they are malformed.
        public static let configuration = Code("configuration")
        /// The server could not be reached (not running, wrong address, TLS failure).
        public static let unreachable = Code("unreachable")
        /// The server refused the admin token.
        public static let unauthorized = Code("unauthorized")
        /// The named object does not exist.
        public static let notFound = Code("not-found")
        /// The request was refused as invalid or conflicting.
        public static let rejected = Code("rejected")
        /// The server does not offer this yet.
        public static let notAvailable = Code("not-available")
        /// The server failed.
        public static let server = Code("server")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
