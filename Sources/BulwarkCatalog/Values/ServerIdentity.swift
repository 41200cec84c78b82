public import Foundation

/// Who this server is: made on first start, never changed, so agents and datastores can tell servers apart.
public struct ServerIdentity: Hashable, Sendable, Codable {
    public var serverID: UUID
    public var createdAt: Date

    public init(serverID: UUID, createdAt: Date) {
        self.serverID = serverID
        self.createdAt = createdAt
    }
}
