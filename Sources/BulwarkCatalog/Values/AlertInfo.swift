public import BulwarkCore
public import Foundation

/// An alert: raised when something needs an admin, resolved when it no longer does.
public struct AlertInfo: Hashable, Sendable, Codable {
    public var id: AlertID
    public var kind: AlertKind
    public var severity: AlertSeverity
    /// What it is about, e.g. `kvm1/web1` or `datastore main`; with the kind, it identifies an open alert.
    public var subject: String
    public var message: String
    public var raisedAt: Date
    public var resolvedAt: Date?

    public init(
        id: AlertID, kind: AlertKind, severity: AlertSeverity, subject: String, message: String, raisedAt: Date,
        resolvedAt: Date?
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
