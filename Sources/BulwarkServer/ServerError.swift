/// A failure of the server itself (configuration, data directory, start-up), with a message that says how to fix it.
public struct ServerError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure. Open set: new codes are added as static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }

        public static let invalidConfiguration = Code("invalid-configuration")
        public static let dataDirectory = Code("data-directory")
        public static let listen = Code("listen")
        public static let invalidRequest = Code("invalid-request")

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

    public var description: String {
        cause.map { "\(message) (\($0))" } ?? message
    }
}
