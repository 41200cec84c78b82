public import Foundation

/// An enrolled host and its agent.
public struct AgentInfo: Hashable, Sendable, Codable {
    public var host: String
    public var certificateFingerprint: String
    public var certificatePEM: String
    public var enrolledAt: Date
    /// When the agent last called in; nil if it never has since enrolling.
    public var lastSeenAt: Date?
    /// VMs the host reported in its last inventory.
    public var vmCount: Int

    public init(
        host: String, certificateFingerprint: String, certificatePEM: String, enrolledAt: Date, lastSeenAt: Date?,
        vmCount: Int
    ) {
        self.host = host
        self.certificateFingerprint = certificateFingerprint
        self.certificatePEM = certificatePEM
        self.enrolledAt = enrolledAt
        self.lastSeenAt = lastSeenAt
        self.vmCount = vmCount
    }
}
