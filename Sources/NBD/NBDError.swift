internal import CNBD
import Foundation

/// An error reported by libnbd, with libnbd's message and the errno it recorded.
public struct NBDError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure it was, from libnbd's errno. Open set: unknown errno values keep their number.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let unknown = Code(rawValue: 0)
        public static let notFound = Code(rawValue: ENOENT)
        public static let io = Code(rawValue: EIO)
        public static let invalidArgument = Code(rawValue: EINVAL)
        public static let brokenPipe = Code(rawValue: EPIPE)
        public static let notSupported = Code(rawValue: ENOTSUP)
        public static let connectionReset = Code(rawValue: ECONNRESET)
        public static let notConnected = Code(rawValue: ENOTCONN)
        public static let connectionRefused = Code(rawValue: ECONNREFUSED)
        public static let shutdown = Code(rawValue: ESHUTDOWN)
        public static let protocolError = Code(rawValue: EPROTO)

        public var description: String {
            rawValue == 0 ? "unknown" : "\(String(cString: strerror(rawValue))) (errno \(rawValue))"
        }

        /// Whether the failure means the export is gone (server died, socket closed), as opposed to a bad request.
        public var isDisconnect: Bool {
            [.brokenPipe, .connectionReset, .notConnected, .shutdown, .connectionRefused].contains(self)
        }
    }

    public var code: Code
    /// libnbd's message.
    public var message: String
    /// The call that failed, e.g. `nbd_pread`.
    public var operation: String
    /// What it was about: the URI or socket and export.
    public var subject: String?

    public init(code: Code, message: String, operation: String, subject: String? = nil) {
        self.code = code
        self.message = message
        self.operation = operation
        self.subject = subject
    }

    public var description: String {
        let about = subject.map { " (\($0))" } ?? ""
        return "\(operation) failed\(about): \(message) [\(code)]"
    }

    /// Builds an error from libnbd's thread-local last error; call right after the failing call.
    static func last(_ operation: String, subject: String?) -> NBDError {
        let message = nbd_get_error().map { String(cString: $0) } ?? "no message"
        return NBDError(code: Code(rawValue: nbd_get_errno()), message: message, operation: operation, subject: subject)
    }
}
