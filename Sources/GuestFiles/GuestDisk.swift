/// A guest's disk as item-level recovery reads it: bytes at offsets, read on demand (from a datastore, or from
/// chunks a server sends). Calls block; two threads may call at once.
public protocol GuestDisk: Sendable {
    /// The disk's name in the guest's definition (`vda`): the first part of every path under it.
    var target: String { get }
    var size: UInt64 { get }
    /// `length` bytes at `offset`, within ``size``.
    func read(offset: UInt64, length: Int) throws -> [UInt8]
}

/// What item-level recovery found wrong, with a message that says what to do.
public struct GuestFilesError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// No such path in the point's file systems.
        public static let notFound = Code("not-found")
        /// A file system Bulwark cannot read (XFS, NTFS, LVM without libguestfs), or a damaged one.
        public static let unsupported = Code("unsupported")
        /// The guest's file system is damaged or hostile.
        public static let corrupt = Code("corrupt")
        /// A path or name that cannot be extracted safely.
        public static let invalid = Code("invalid")
        /// Writing into the target folder failed.
        public static let target = Code("target")
        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
