internal import CLibvirt
import Foundation

extension Domain {
    /// Creates a checkpoint: a persistent dirty bitmap in every listed disk, starting now.
    ///
    /// With `quiesce`, the guest's filesystems are frozen through the QEMU guest agent while the bitmaps are created
    /// (see ``whileFrozen(_:)``), and the call fails with `agentUnresponsive` when no agent answers.
    @discardableResult
    public func createCheckpoint(_ definition: CheckpointDefinition, quiesce: Bool = false) throws(LibvirtError)
        -> Checkpoint
    {
        let operation = "create checkpoint '\(definition.name)'"
        try definition.validate(subject: subject)
        guard quiesce else { return try createCheckpoint(xml: definition.xml, flags: 0, operation: operation) }
        return try whileFrozen { () throws(LibvirtError) in
            try createCheckpoint(xml: definition.xml, flags: 0, operation: operation)
        }
    }

    /// Tells libvirt about a checkpoint whose bitmaps already exist (after a move to another host, or after its
    /// metadata was lost). With `validate`, libvirt checks that every disk really has a consistent bitmap of that
    /// name, and fails with `checkpointInconsistent` when not.
    @discardableResult
    public func redefineCheckpoint(xml: String, validate: Bool) throws(LibvirtError) -> Checkpoint {
        var flags = VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE.rawValue
        if validate { flags |= VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE.rawValue }
        return try createCheckpoint(xml: xml, flags: flags, operation: "redefine checkpoint")
    }

    private func createCheckpoint(xml: String, flags: UInt32, operation: String) throws(LibvirtError) -> Checkpoint {
        guard let ptr = virDomainCheckpointCreateXML(handle, xml, flags) else {
            throw LibvirtError.last("virDomainCheckpointCreateXML", subject: "\(operation) on \(subject)")
        }
        return Checkpoint(handle: ptr, domain: self)
    }

    /// Every checkpoint of the domain, parents before children.
    public func checkpoints() throws(LibvirtError) -> [Checkpoint] {
        var list: UnsafeMutablePointer<virDomainCheckpointPtr?>?
        let count = virDomainListAllCheckpoints(handle, &list, VIR_DOMAIN_CHECKPOINT_LIST_TOPOLOGICAL.rawValue)
        guard count >= 0, let list else { throw LibvirtError.last("virDomainListAllCheckpoints", subject: subject) }
        defer { free(list) }
        return (0..<Int(count)).compactMap { list[$0].map { Checkpoint(handle: $0, domain: self) } }
    }

    /// The checkpoint called `name`; throws `noCheckpoint` when the domain has none of that name.
    public func checkpoint(named name: String) throws(LibvirtError) -> Checkpoint {
        guard let ptr = virDomainCheckpointLookupByName(handle, name, 0) else {
            throw LibvirtError.last("virDomainCheckpointLookupByName", subject: "checkpoint '\(name)' of \(subject)")
        }
        return Checkpoint(handle: ptr, domain: self)
    }
}
