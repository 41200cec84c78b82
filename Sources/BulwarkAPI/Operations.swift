public import BulwarkCore
public import Foundation

/// A job: a backup, check, recovery or maintenance run, with its state and phase.
public struct JobView: Codable, Sendable, Hashable {
    /// One log line of a job.
    public struct LogLine: Codable, Sendable, Hashable {
        public var time: Date
        public var level: String
        public var message: String
        public init(time: Date, level: String, message: String) {
            self.time = time
            self.level = level
            self.message = message
        }
    }

    public var id: String
    public var kind: String
    public var subject: String
    public var state: JobState
    public var phase: JobPhase?
    public var createdAt: Date
    public var startedAt: Date?
    public var endedAt: Date?
    public var error: String?
    public var progress: Double
    /// The VM the job is about, if any.
    public var vm: UUID?
    /// Bytes to read, read and sent, for syncs that have started transferring.
    public var bytes: JobProgress?
    /// The recovery point a successful sync committed.
    public var recoveryPoint: String?
    /// Present in `GET /v1/jobs/{id}`.
    public var log: [LogLine]?
    /// A queued job waits until then (an initial replica at a set time).
    public var startAt: Date?
    /// Which try of the job this is: 1 for the first, 2 for the first retry. Absent from servers before retries.
    public var attempt: Int?
    /// The failed job this one tries again.
    public var retryOf: String?

    public init(
        id: String, kind: String, subject: String, state: JobState, phase: JobPhase?, createdAt: Date,
        startedAt: Date?, endedAt: Date?, error: String?, progress: Double, vm: UUID? = nil, bytes: JobProgress? = nil,
        recoveryPoint: String? = nil, log: [LogLine]? = nil, startAt: Date? = nil, attempt: Int? = nil,
        retryOf: String? = nil
    ) {
        self.id = id
        self.kind = kind
        self.subject = subject
        self.state = state
        self.phase = phase
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.error = error
        self.progress = progress
        self.vm = vm
        self.bytes = bytes
        self.recoveryPoint = recoveryPoint
        self.log = log
        self.startAt = startAt
        self.attempt = attempt
        self.retryOf = retryOf
    }
}

/// An alert: something an administrator should look at.
public struct AlertView: Codable, Sendable, Hashable {
    public var id: String
    public var kind: String
    public var severity: String
    public var subject: String
    public var message: String
    public var raisedAt: Date
    public var resolvedAt: Date?

    public init(
        id: String, kind: String, severity: String, subject: String, message: String, raisedAt: Date, resolvedAt: Date?
    ) {
        self.id = id
        self.kind = kind
        self.severity = severity
        self.subject = subject
        self.message = message
        self.raisedAt = raisedAt
        self.resolvedAt = resolvedAt
    }
}

/// `POST /v1/agents/tokens`: a one-time enrollment token for the agent of one host.
public struct EnrollmentTokenRequest: Codable, Sendable, Hashable {
    /// The one host name the token enrolls.
    public var host: String
    /// Whether the token replaces the certificate of `host`, which must be enrolled already.
    public var reenroll: Bool?
    /// How long the token is valid: 5m to 30d, e.g. `24h` (default).
    public var expires: String?
    public init(host: String, reenroll: Bool? = nil, expires: String? = nil) {
        self.host = host
        self.reenroll = reenroll
        self.expires = expires
    }
}

/// A new enrollment token: shown once, stored only as a digest.
public struct EnrollmentTokenView: Codable, Sendable, Hashable {
    public var token: String
    public var expiresAt: Date
    /// The host it enrolls.
    public var host: String?
    public var reenroll: Bool?
    public init(token: String, expiresAt: Date, host: String? = nil, reenroll: Bool? = nil) {
        self.token = token
        self.expiresAt = expiresAt
        self.host = host
        self.reenroll = reenroll
    }
}

/// An enrolled agent (a KVM host).
public struct AgentView: Codable, Sendable, Hashable {
    public var host: String
    public var certificateFingerprint: String
    public var enrolledAt: Date
    public var lastSeenAt: Date?
    public var vmCount: Int
    public init(host: String, certificateFingerprint: String, enrolledAt: Date, lastSeenAt: Date?, vmCount: Int) {
        self.host = host
        self.certificateFingerprint = certificateFingerprint
        self.enrolledAt = enrolledAt
        self.lastSeenAt = lastSeenAt
        self.vmCount = vmCount
    }
}

/// `POST /v1/enroll`: an agent asks for its client certificate with a one-time enrollment token.
public struct EnrollmentRequest: Codable, Sendable, Hashable {
    public var token: String
    /// The host's name, as the agent will be known (`bulwark agent show HOST`).
    public var host: String
    /// A PEM certificate signing request for the agent's own key.
    public var csr: String

    public init(token: String, host: String, csr: String) {
        self.token = token
        self.host = host
        self.csr = csr
    }
}

/// The answer to an enrollment: the agent's client certificate and the CA to trust.
public struct EnrollmentResponse: Codable, Sendable, Hashable {
    public var certificate: String
    public var caCertificate: String
    public var host: String

    public init(certificate: String, caCertificate: String, host: String) {
        self.certificate = certificate
        self.caCertificate = caCertificate
        self.host = host
    }
}
