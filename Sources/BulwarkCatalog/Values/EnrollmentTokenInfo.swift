public import Foundation

/// An agent enrollment token as the catalog knows it (its digest only).
public struct EnrollmentTokenInfo: Hashable, Sendable {
    public var createdAt: Date
    public var expiresAt: Date
    /// When it was used; tokens are single use.
    public var usedAt: Date?
    /// The host that used it.
    public var usedByHost: String?
    /// The one host it enrolls.
    public var host: String?
    /// Whether it replaces the certificate of a host that is enrolled already.
    public var reenroll: Bool

    public init(
        createdAt: Date, expiresAt: Date, usedAt: Date?, usedByHost: String?, host: String? = nil, reenroll: Bool = false
    ) {
        self.host = host
        self.reenroll = reenroll
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.usedByHost = usedByHost
    }
}
