internal import CLibvirt

extension Domain {
    /// Runs `body` with the guest's filesystems frozen through the QEMU guest agent, and thaws them afterwards even
    /// when `body` fails.
    ///
    /// Libvirt's own `VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE` flag is not implemented by its QEMU driver (libvirt 9.0
    /// answers "unsupported flags (0x2)"), and backup jobs have no quiesce flag at all; freezing around the call is
    /// what gives an application-consistent point in time. Fails with `agentUnresponsive` when no agent answers;
    /// nothing is frozen then.
    public func whileFrozen<T>(_ body: () throws(LibvirtError) -> T) throws(LibvirtError) -> T {
        guard virDomainFSFreeze(handle, nil, 0, 0) >= 0 else {
            throw LibvirtError.last("virDomainFSFreeze", subject: "quiesce \(subject)")
        }
        let result = Result { () throws(LibvirtError) in try body() }
        if virDomainFSThaw(handle, nil, 0, 0) < 0 {
            var thawError = LibvirtError.last("virDomainFSThaw", subject: "thaw \(subject) after quiescing")
            // The guest's filesystems may still be frozen: that must reach the caller whatever else failed.
            if case .failure(let bodyError) = result {
                thawError.message += "; the guest's filesystems may still be frozen (the quiesced call had failed: \(bodyError))"
            }
            throw thawError
        }
        return try result.get()
    }
}
