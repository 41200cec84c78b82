internal import CLibvirt

/// Sizes of one disk of a domain, as `virDomainGetBlockInfo` reports them.
public struct BlockInfo: Sendable, Hashable {
    /// The size the guest sees, in bytes.
    public var capacity: UInt64
    /// Bytes allocated in the image (for qcow2, up to the highest cluster in use).
    public var allocation: UInt64
    /// The size of the image file or device on the host.
    public var physical: UInt64
}

extension Domain {
    /// The sizes of disk `target` (`vda`); works on running and shut-off domains.
    public func blockInfo(_ target: String) throws(LibvirtError) -> BlockInfo {
        var info = virDomainBlockInfo()
        guard virDomainGetBlockInfo(handle, target, &info, 0) == 0 else {
            throw LibvirtError.last("virDomainGetBlockInfo", subject: "disk \(target) of \(subject)")
        }
        return BlockInfo(capacity: info.capacity, allocation: info.allocation, physical: info.physical)
    }
}
