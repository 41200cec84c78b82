public import Foundation

/// What `<root>/.bulwark-datastore` records: the format, the datastore's identity and its chunk size.
///
/// The file is small JSON so that an admin (or a rebuilt catalog) can tell what a folder is without Bulwark.
public struct DatastoreConfiguration: Codable, Hashable, Sendable {
    /// The on-disk format this build writes and reads.
    public static let currentFormatVersion = 1
    /// The chunk size a datastore gets unless told otherwise: 4 MiB.
    public static let defaultChunkSize = 4 << 20
    /// The chunk sizes a datastore may have: powers of two from 64 KiB to 16 MiB.
    public static let chunkSizeRange = (64 << 10)...(16 << 20)

    public var formatVersion: Int
    /// The datastore's own id, so that a catalog can tell two datastores apart after a move.
    public var uuid: UUID
    /// Every chunk but a disk's last holds exactly this many plain bytes.
    public var chunkSize: Int
    public var createdAt: Date

    public init(formatVersion: Int = currentFormatVersion, uuid: UUID = UUID(), chunkSize: Int, createdAt: Date) {
        self.formatVersion = formatVersion
        self.uuid = uuid
        self.chunkSize = chunkSize
        self.createdAt = createdAt
    }

    /// Checks that `chunkSize` is a power of two from 64 KiB to 16 MiB.
    public static func validate(chunkSize: Int) throws(DatastoreError) {
        guard chunkSizeRange.contains(chunkSize), chunkSize & (chunkSize - 1) == 0 else {
            throw DatastoreError(
                .invalidChunkSize,
                "chunk size \(chunkSize) is not a power of two from 65536 (64 KiB) to 16777216 (16 MiB); "
                    + "use the default 4194304 (4 MiB) unless you measured that another size suits you better")
        }
    }
}
