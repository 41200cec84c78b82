public import Foundation

/// One file, folder, link or other object of a guest file system, as a listing shows it.
public struct GuestEntry: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case file, directory, symlink, device, fifo, socket
        /// A file system of the point (a listing of `/`).
        case filesystem

        /// The kind a POSIX `st_mode` (type bits and permissions) says; what no other kind is counts as a device.
        init(mode: UInt32) {
            self =
                switch mode & 0o170000 {
                case 0o040000: .directory
                case 0o100000: .file
                case 0o120000: .symlink
                case 0o010000: .fifo
                case 0o140000: .socket
                default: .device
                }
        }
    }

    public var name: String
    public var kind: Kind
    public var size: UInt64
    /// Permission bits (`0o644`), with setuid, setgid and sticky.
    public var mode: UInt32
    public var modified: Date
    public var accessed: Date
    /// A symlink's target, as stored (never followed).
    public var target: String?
    /// For file systems: their type (`ext4`) and label.
    public var fileSystem: String?
    public var label: String?
    /// Inode number, within its file system.
    public var inode: UInt64

    public init(
        name: String, kind: Kind, size: UInt64, mode: UInt32, modified: Date, accessed: Date, target: String? = nil,
        fileSystem: String? = nil, label: String? = nil, inode: UInt64 = 0
    ) {
        self.name = name
        self.kind = kind
        self.size = size
        self.mode = mode
        self.modified = modified
        self.accessed = accessed
        self.target = target
        self.fileSystem = fileSystem
        self.label = label
        self.inode = inode
    }
}
