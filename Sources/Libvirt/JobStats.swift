internal import CLibvirt

/// Statistics of a domain job (`virDomainGetJobStats`), as libvirt's typed parameters.
public struct JobStats: Sendable, Hashable {
    /// `virDomainJobType`.
    public enum JobType: Int32, Sendable, Hashable {
        case none = 0
        case bounded = 1
        case unbounded = 2
        case completed = 3
        case failed = 4
        case cancelled = 5
    }

    /// One typed parameter's value.
    public enum Value: Sendable, Hashable {
        case int(Int64)
        case uint(UInt64)
        case double(Double)
        case bool(Bool)
        case string(String)

        init?(_ param: virTypedParameter) {
            switch param.type {
            case 1: self = .int(Int64(param.value.i))
            case 2: self = .uint(UInt64(param.value.ui))
            case 3: self = .int(Int64(param.value.l))
            case 4: self = .uint(UInt64(param.value.ul))
            case 5: self = .double(param.value.d)
            case 6: self = .bool(param.value.b != 0)
            case 7: self = .string(param.value.s.map { String(cString: $0) } ?? "")
            default: return nil
            }
        }

        public var unsignedValue: UInt64? {
            switch self {
            case .uint(let value): value
            case .int(let value) where value >= 0: UInt64(value)
            default: nil
            }
        }
    }

    public var type: JobType
    public var fields: [String: Value]

    public init(type: JobType, fields: [String: Value]) {
        self.type = type
        self.fields = fields
    }

    /// Whether a job is running.
    public var isActive: Bool { type == .bounded || type == .unbounded }

    /// `virDomainJobOperation` of the job; 9 is a backup.
    public var operation: Int64? {
        if case .int(let value) = fields["operation"] { return value }
        return fields["operation"]?.unsignedValue.map(Int64.init)
    }

    /// Whether the job is a backup job.
    public var isBackup: Bool { operation == 9 }
}
