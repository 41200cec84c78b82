public import Foundation

/// An agent enrollment token as the catalog knows it (its digest only).
public struct EnrollmentTokenInfo: Hashable, Sendable {
    public var createdAt: Date
    public var expiresAt: Date
    /// When it was used; tokens are single use.
    public var usedAt: Date?
    /// The host that used it.
    public var usedByHost: String?

    public init(createdAt: Date, expiresAt: Date, usedAt: Date?, usedByHost: String?) {
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.usedByHost = usedByHost
    }
}
