public import Foundation

/// A libvirt checkpoint a sync made, to record with its recovery point.
public struct NewCheckpoint: Hashable, Sendable {
    public var vmUUID: UUID
    public var name: String
    /// The host it was made on.
    public var host: String
    /// The checkpoint's XML as libvirt dumped it, for redefining it on another host.
    public var xml: String
    public var createdAt: Date

    public init(vmUUID: UUID, name: String, host: String, xml: String, createdAt: Date) {
        self.vmUUID = vmUUID
        self.name = name
        self.host = host
        self.xml = xml
        self.createdAt = createdAt
    }
}
