public import Foundation

extension Datastore {
    /// The file in a VM's folder listing chunks its syncs uploaded that no point of the VM names yet (a sync that
    /// failed or was cancelled after uploading).
    static let uploadsName = ".uploads"
    /// At most this many digests are kept (1 TiB of 4 MiB chunks); the oldest go first.
    static let maximumUploads = 262_144

    /// Adds `digests` to what the VM's syncs uploaded: a later sync of the same VM counts them as present, while
    /// a chunk query of any other VM never does (see the server's chunk query).
    public func recordUploads(_ digests: [ChunkDigest], vm: UUID) throws(DatastoreError) {
        guard !digests.isEmpty else { return }
        var known = try uploadList(vm: vm)
        var seen = Set(known)
        for digest in digests where seen.insert(digest).inserted { known.append(digest) }
        if known.count > Self.maximumUploads { known.removeFirst(known.count - Self.maximumUploads) }
        if try FileSystem.makeDirectory(vmPath(vm)) { try FileSystem.syncDirectory(root) }
        // Not flushed: losing it costs only a second upload of those chunks.
        try FileSystem.writeAtomically(known.flatMap(\.bytes), to: "\(vmPath(vm))/\(Self.uploadsName)", durable: false)
    }

    /// The chunks the VM's syncs uploaded that no point of it names yet.
    public func uploadedChunks(vm: UUID) throws(DatastoreError) -> Set<ChunkDigest> {
        Set(try uploadList(vm: vm))
    }

    /// Forgets the VM's uploads: a committed point is the base of the next sync and names what it needs.
    public func clearUploads(vm: UUID) throws(DatastoreError) {
        _ = try FileSystem.remove("\(vmPath(vm))/\(Self.uploadsName)")
    }

    private func uploadList(vm: UUID) throws(DatastoreError) -> [ChunkDigest] {
        guard let bytes = try FileSystem.read("\(vmPath(vm))/\(Self.uploadsName)") else { return [] }
        let size = ChunkDigest.byteCount
        return stride(from: 0, to: bytes.count - bytes.count % size, by: size).compactMap {
            ChunkDigest(bytes: bytes[$0..<$0 + size])
        }
    }
}
