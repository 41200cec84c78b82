public import BulwarkCore
public import Foundation

/// A checkpoint the catalog recorded for a VM.
public struct CheckpointInfo: Hashable, Sendable {
    public var vmUUID: UUID
    public var name: String
    public var host: String
    public var xml: String
    public var state: CheckpointState
    public var createdAt: Date

    public init(vmUUID: UUID, name: String, host: String, xml: String, state: CheckpointState, createdAt: Date) {
        self.vmUUID = vmUUID
        self.name = name
        self.host = host
        self.xml = xml
        self.state = state
        self.createdAt = createdAt
    }
}
