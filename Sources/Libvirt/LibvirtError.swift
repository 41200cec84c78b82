internal import CLibvirt

/// An error reported by libvirt, carrying libvirt's own code, domain and message.
///
/// The ``Code`` is an open set: libvirt adds codes over time, so unknown ones keep their raw value instead of being
/// collapsed into a catch-all.
public struct LibvirtError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A libvirt error code (`virErrorNumber`).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let internalError = Code(rawValue: 1)
        public static let noSupport = Code(rawValue: 3)
        public static let noConnect = Code(rawValue: 5)
        public static let invalidArgument = Code(rawValue: 8)
        public static let operationFailed = Code(rawValue: 9)
        public static let xmlError = Code(rawValue: 27)
        public static let xmlDetail = Code(rawValue: 35)
        public static let domainExists = Code(rawValue: 28)
        public static let operationDenied = Code(rawValue: 29)
        public static let systemError = Code(rawValue: 38)
        public static let rpc = Code(rawValue: 39)
        public static let noDomain = Code(rawValue: 42)
        public static let operationInvalid = Code(rawValue: 55)
        public static let configUnsupported = Code(rawValue: 67)
        public static let operationTimeout = Code(rawValue: 68)
        public static let argumentUnsupported = Code(rawValue: 74)
        public static let operationAborted = Code(rawValue: 78)
        public static let operationUnsupported = Code(rawValue: 84)
        public static let agentUnresponsive = Code(rawValue: 86)
        public static let resourceBusy = Code(rawValue: 87)
        public static let accessDenied = Code(rawValue: 88)
        public static let xmlInvalidSchema = Code(rawValue: 92)
        public static let agentUnsynced = Code(rawValue: 97)
        public static let invalidCheckpoint = Code(rawValue: 102)
        public static let noCheckpoint = Code(rawValue: 103)
        public static let noBackup = Code(rawValue: 104)
        public static let checkpointInconsistent = Code(rawValue: 109)

        private static let names: [Int32: String] = [
            1: "internalError", 3: "noSupport", 5: "noConnect", 8: "invalidArgument", 9: "operationFailed",
            27: "xmlError", 35: "xmlDetail", 28: "domainExists", 29: "operationDenied", 38: "systemError", 39: "rpc",
            42: "noDomain", 55: "operationInvalid", 67: "configUnsupported", 68: "operationTimeout",
            74: "argumentUnsupported", 78: "operationAborted", 84: "operationUnsupported", 86: "agentUnresponsive",
            87: "resourceBusy", 88: "accessDenied", 92: "xmlInvalidSchema", 97: "agentUnsynced", 102: "invalidCheckpoint",
            103: "noCheckpoint", 104: "noBackup", 109: "checkpointInconsistent",
        ]

        public var description: String { Self.names[rawValue].map { "\($0)(\(rawValue))" } ?? "code \(rawValue)" }
    }

    /// Libvirt's error code.
    public var code: Code
    /// Libvirt's error domain (`virErrorDomain`): which part of libvirt raised it (QEMU driver, RPC, ...).
    public var domain: Int32
    /// Libvirt's message, as libvirt wrote it.
    public var message: String
    /// The call that failed, e.g. `virDomainBackupBegin`.
    public var operation: String
    /// What the call was about (a URI, `domain 'web1'`, `checkpoint 'c1' of domain 'web1'`), for the reader.
    public var subject: String?

    public init(code: Code, domain: Int32 = 0, message: String, operation: String, subject: String? = nil) {
        self.code = code
        self.domain = domain
        self.message = message
        self.operation = operation
        self.subject = subject
    }

    public var description: String {
        let about = subject.map { " (\($0))" } ?? ""
        return "\(operation) failed\(about): \(message) [libvirt \(code), domain \(domain)]"
    }

    /// Builds an error from libvirt's thread-local last error and clears it.
    ///
    /// Must be called on the thread that made the failing call, right after it: libvirt keeps the last error per
    /// thread, which is one reason every handle stays on the thread of its owner.
    static func last(_ operation: String, subject: String? = nil) -> LibvirtError {
        guard let error = virGetLastError() else {
            return LibvirtError(
                code: .internalError, message: "libvirt reported a failure without an error", operation: operation,
                subject: subject)
        }
        defer { virResetLastError() }
        let message = error.pointee.message.map { String(cString: $0) } ?? "no message"
        return LibvirtError(
            code: Code(rawValue: error.pointee.code), domain: error.pointee.domain, message: message,
            operation: operation, subject: subject)
    }
}
