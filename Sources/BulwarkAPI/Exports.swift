public import Foundation

/// `POST /v1/exports`: serve a recovery point's disks as read-only NBD exports.
public struct ExportRequest: Codable, Sendable, Hashable {
    /// `HOST/NAME`, a UUID, or a unique `NAME`.
    public var vm: String
    /// A point id of the VM, or `latest`.
    public var point: String
    public init(vm: String, point: String) {
        self.vm = vm
        self.point = point
    }
}

/// A recovery point being served over NBD until it is stopped (or bulwarkd stops); while it is, retention keeps
/// the point.
public struct ExportView: Codable, Sendable, Hashable {
    public struct Disk: Codable, Sendable, Hashable {
        public var target: String
        public var sizeBytes: Int64
        /// `nbd+unix:///TARGET?socket=PATH`, for qemu-img, nbdcopy, nbdinfo, libguestfs.
        public var uri: String
        public init(target: String, sizeBytes: Int64, uri: String) {
            self.target = target
            self.sizeBytes = sizeBytes
            self.uri = uri
        }
    }

    public var id: String
    public var vm: UUID
    public var vmName: String
    public var point: String
    public var pointCreatedAt: Date
    /// The unix socket; each disk is the export of its target's name.
    public var socket: String
    public var disks: [Disk]
    public var createdAt: Date
    /// Client connections open now.
    public var connections: Int

    public init(
        id: String, vm: UUID, vmName: String, point: String, pointCreatedAt: Date, socket: String, disks: [Disk],
        createdAt: Date, connections: Int
    ) {
        self.id = id
        self.vm = vm
        self.vmName = vmName
        self.point = point
        self.pointCreatedAt = pointCreatedAt
        self.socket = socket
        self.disks = disks
        self.createdAt = createdAt
        self.connections = connections
    }
}
