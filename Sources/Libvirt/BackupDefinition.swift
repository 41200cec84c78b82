public import DomainXML
import Foundation

/// The XML that begins a pull-mode backup job: libvirt exports each disk over NBD for the caller to read.
public struct BackupDefinition: Sendable, Hashable {
    /// One disk in the backup job.
    public struct Disk: Sendable, Hashable {
        /// Target name (`vda`).
        public var name: String
        /// Scratch file QEMU keeps copy-before-write data in while the export is open. Libvirt creates it and
        /// removes it when the job ends.
        public var scratchFile: String
        /// The NBD export name; libvirt's default is the target name.
        public var exportName: String?

        public init(name: String, scratchFile: String, exportName: String? = nil) {
            self.name = name
            self.scratchFile = scratchFile
            self.exportName = exportName
        }
    }

    /// Checkpoint the backup is incremental from; nil for a full backup.
    public var incremental: String?
    /// Unix socket the NBD server listens on.
    public var socketPath: String
    public var disks: [Disk]
    /// Disks of the domain left out of the job.
    public var excludedDisks: [String]

    public init(incremental: String? = nil, socketPath: String, disks: [Disk], excludedDisks: [String] = []) {
        self.incremental = incremental
        self.socketPath = socketPath
        self.disks = disks
        self.excludedDisks = excludedDisks
    }

    /// Throws `invalidArgument` naming the problem when libvirt would refuse the definition.
    public func validate(subject: String? = nil) throws(LibvirtError) {
        func refuse(_ message: String) -> LibvirtError {
            LibvirtError(code: .invalidArgument, message: message, operation: "begin backup", subject: subject)
        }
        guard !disks.isEmpty else { throw refuse("a backup job needs at least one disk; name the disks to export") }
        if let incremental, !CheckpointDefinition.isValidName(incremental) {
            throw refuse("'\(incremental)' cannot be a checkpoint name, so no incremental backup can start from it")
        }
        guard !socketPath.isEmpty, socketPath.utf8.count < 108 else {
            throw refuse("the NBD socket path must be 1 to 107 bytes long (a unix socket limit): '\(socketPath)'")
        }
    }

    /// The `<domainbackup mode='pull'>` document.
    public var xml: String {
        var children: [XMLTree.Node] = []
        if let incremental { children.append(XMLTree.Node("incremental", text: incremental)) }
        children.append(XMLTree.Node("server", [("transport", "unix"), ("socket", socketPath)]))
        let disks =
            self.disks.map { disk in
                var attributes = [("name", disk.name), ("backup", "yes"), ("type", "file")]
                if let exportName = disk.exportName { attributes.append(("exportname", exportName)) }
                return XMLTree.Node("disk", attributes, children: [XMLTree.Node("scratch", [("file", disk.scratchFile)])])
            }
            + excludedDisks.map { XMLTree.Node("disk", [("name", $0), ("backup", "no")]) }
        children.append(XMLTree.Node("disks", children: disks))
        return XMLTree.Node("domainbackup", [("mode", "pull")], children: children).xml
    }
}

/// A running backup job as libvirt describes it (`virDomainBackupGetXMLDesc`).
public struct BackupDescription: Sendable, Hashable {
    /// One exported disk.
    public struct Disk: Sendable, Hashable {
        public var name: String
        public var exportName: String?
        /// The NBD meta context suffix of the dirty bitmap (`backup-vda` for `qemu:dirty-bitmap:backup-vda`);
        /// present only for incremental jobs.
        public var exportBitmap: String?
        public var scratchFile: String?
    }

    public var mode: String
    public var incremental: String?
    public var socketPath: String?
    public var disks: [Disk]

    public init(xml: String) throws(XMLFormatError) {
        let root = try XMLTree.parse(xml, root: "domainbackup")
        self.mode = root.attribute("mode") ?? "push"
        self.incremental = root.childText("incremental")
        self.socketPath = root.child("server")?.attribute("socket")
        self.disks = (root.child("disks")?.children("disk") ?? []).compactMap { element in
            guard let name = element.attribute("name"), element.attribute("backup") != "no" else { return nil }
            return Disk(
                name: name, exportName: element.attribute("exportname"),
                exportBitmap: element.attribute("exportbitmap"),
                scratchFile: element.child("scratch")?.attribute("file"))
        }
    }
}
