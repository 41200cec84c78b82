/// A datastore's chunk size: a power of two from 64 KiB to 16 MiB, 4 MiB unless chosen.
///
/// Larger chunks mean fewer files and faster full reads; smaller chunks mean finer deduplication and less data
/// sent for scattered writes. It is fixed when the datastore is made, because indexes address data by chunk.
public struct ChunkSize: ParsableValue, Comparable {
    public static let field = "--chunk-size"
    public static let minimum = ChunkSize(unchecked: 64 << 10)
    public static let maximum = ChunkSize(unchecked: 16 << 20)
    public static let `default` = ChunkSize(unchecked: 4 << 20)

    public let bytes: Int

    private init(unchecked bytes: Int) { self.bytes = bytes }

    public init(bytes: Int) throws(ValidationError) {
        try self.init(checking: Int64(bytes), text: String(bytes))
    }

    public init(parsing text: String) throws(ValidationError) {
        try self.init(checking: try ByteCount.parse(text, field: Self.field), text: text)
    }

    private init(checking bytes: Int64, text: String) throws(ValidationError) {
        let fix = "choose 64K, 128K, 256K, 512K, 1M, 2M, 4M, 8M or 16M"
        guard bytes > 0, bytes & (bytes - 1) == 0 else {
            throw ValidationError(field: Self.field, value: text, rule: "must be a power of two", fix: fix)
        }
        guard (Int64(Self.minimum.bytes)...Int64(Self.maximum.bytes)).contains(bytes) else {
            throw ValidationError(field: Self.field, value: text, rule: "must be from 64 KiB to 16 MiB", fix: fix)
        }
        self.bytes = Int(bytes)
    }

    /// The binary-unit form, e.g. `4MiB`, which ``init(parsing:)`` reads back.
    public var description: String { ByteCount.format(Int64(bytes)).replacingSpaces() }

    public static func < (lhs: ChunkSize, rhs: ChunkSize) -> Bool { lhs.bytes < rhs.bytes }
}

extension String {
    fileprivate func replacingSpaces() -> String { filter { $0 != " " } }
}
