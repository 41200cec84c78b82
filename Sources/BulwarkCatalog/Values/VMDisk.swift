/// One disk of a VM, as its agent reports it.
public struct VMDisk: Hashable, Sendable, Codable {
    /// The guest-side target, e.g. `vda`; unique within the VM.
    public var target: String
    /// The image format, e.g. `qcow2` or `raw` (raw disks have no dirty bitmaps: every sync is a consistency check).
    public var format: String
    public var capacityBytes: Int64
    /// The source file or device on the host; nil for network disks.
    public var path: String?

    public init(target: String, format: String, capacityBytes: Int64, path: String?) {
        self.target = target
        self.format = format
        self.capacityBytes = capacityBytes
        self.path = path
    }
}
