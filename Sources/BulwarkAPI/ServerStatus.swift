public import Foundation

/// `GET /v1/status`: who the server is and what it holds.
public struct ServerStatus: Codable, Sendable, Hashable {
    public var version: String
    public var serverID: String
    public var startedAt: Date
    public var datastores: Int

    public init(version: String, serverID: String, startedAt: Date, datastores: Int) {
        self.version = version
        self.serverID = serverID
        self.startedAt = startedAt
        self.datastores = datastores
    }
}
