/// What an NBD export serves: a read-only disk of a fixed size.
///
/// Calls come from the connection's own thread and may block (file reads); two connections may call at once.
public protocol NBDExportSource: Sendable {
    /// The export's size in bytes.
    var size: UInt64 { get }

    /// The bytes of `[offset, offset + length)`, which lies within ``size``, as runs of data and of zeros in
    /// order; zeros need not be materialised. A failure is answered to the client as an I/O error with its
    /// message.
    func read(offset: UInt64, length: Int) throws -> [NBDPiece]

    /// Allocation from `offset` (within ``size``) for up to `length` bytes, as runs in order that cover at least
    /// the first byte: a client asks again for the rest.
    func extents(offset: UInt64, length: UInt64) throws -> [NBDExtent]
}

/// A run of an export's bytes.
public enum NBDPiece: Sendable, Equatable {
    case data([UInt8])
    case zeros(Int)

    public var count: Int {
        switch self {
        case .data(let bytes): bytes.count
        case .zeros(let count): count
        }
    }
}

/// A run of an export with one allocation state (`base:allocation`).
public struct NBDExtent: Sendable, Equatable {
    public var length: UInt64
    /// Reads as zeros (and holds no data).
    public var isZero: Bool

    public init(length: UInt64, isZero: Bool) {
        self.length = length
        self.isZero = isZero
    }
}
