public import BulwarkCore
public import Foundation

extension Datastore {
    static let manifestName = "manifest.json"
    static let indexExtension = ".fidx"

    func pointPath(_ point: RecoveryPointRef) -> String { "\(vmPath(point.vm))/\(point.point)" }

    /// Writes a recovery point: one index per disk, then the manifest, each atomically.
    ///
    /// `indexes` maps disk targets (`vda`) to their indexes; the manifest's `disks` are filled in from them (size,
    /// file name, checksum) and the manifest is returned as it was written (times to the millisecond). Every chunk the indexes name must be in the
    /// datastore (`chunkMissing` otherwise): a point that cannot be restored is never written. The point is
    /// visible to listings only once its manifest is in place; a crash before that leaves an incomplete folder
    /// that garbage collection removes.
    @discardableResult
    public func writeRecoveryPoint(
        manifest: RecoveryPointManifest, indexes: [String: FixedIndex]
    ) throws(DatastoreError) -> RecoveryPointManifest {
        let point = RecoveryPointRef(vm: manifest.vmUUID, point: manifest.pointID)
        for (target, index) in indexes {
            try Self.validate(target: target)
            guard index.chunkSize == chunkSize else {
                throw DatastoreError(
                    .invalidChunkSize,
                    "the index of disk \(target) of point \(point) has \(index.chunkSize)-byte chunks; the datastore "
                        + "at \(root) uses \(chunkSize)-byte chunks: build the index at the datastore's chunk size")
            }
        }
        var manifest = manifest
        manifest.formatVersion = RecoveryPointManifest.currentFormatVersion
        let manifestBytes: [UInt8]
        let files = indexes.sorted { $0.key < $1.key }.map { target, index in
            (target: target, index: index, bytes: index.encoded())
        }
        manifest.disks = files.map { file in
            RecoveryPointManifest.Disk(
                target: file.target, logicalSize: file.index.logicalSize, indexFile: file.target + Self.indexExtension,
                indexChecksum: Self.sha256Hex(file.bytes))
        }
        do {
            manifestBytes = try JSONCoding.encode(manifest)
            // Returned as `readManifest` will read it (times kept to the millisecond).
            manifest = try JSONCoding.decode(RecoveryPointManifest.self, from: manifestBytes)
        } catch {
            throw DatastoreError(.invalidArgument, "cannot encode the manifest of point \(point)", cause: error)
        }

        // Shared with other commits, exclusive of garbage collection: see `withLock`.
        try withLock(exclusive: false) { () throws(DatastoreError) in
            let folder = pointPath(point)
            if FileSystem.exists("\(folder)/\(Self.manifestName)") {
                throw DatastoreError(
                    .pointExists,
                    "recovery point \(point) exists already in the datastore at \(root); use a new point id")
            }
            try checkChunksPresent(files.map { ($0.target, $0.index) }, point: point)
            // With an object store, the point is complete there before the folder lists it.
            let published = try objectStore.map { store throws(DatastoreError) in
                try publishPoint(point, indexes: files, manifest: manifestBytes, to: store)
            }
            do throws(DatastoreError) {
                let vmFolder = vmPath(point.vm)
                if try FileSystem.makeDirectory(vmFolder) { try FileSystem.syncDirectory(root) }
                // Leftovers of an earlier attempt with this id that died before its manifest.
                try FileSystem.removeTree(folder)
                try FileSystem.makeDirectory(folder)
                try FileSystem.syncDirectory(vmFolder)
                for file in files {
                    try FileSystem.writeAtomically(file.bytes, to: "\(folder)/\(file.target)\(Self.indexExtension)")
                }
                try FileSystem.writeAtomically(manifestBytes, to: "\(folder)/\(Self.manifestName)")
            } catch {
                // A point the folder does not list must not stay in the bucket, where a rebuilt server would find it.
                if let objectStore, let published { try? objectStore.delete(keys: published) }
                throw error
            }
        }
        return manifest
    }

    /// Refreshes the time of every chunk the indexes name, failing with `chunkMissing` for any that is gone.
    ///
    /// The refresh keeps chunks reused from older points out of a sweep that started before this commit and
    /// will look at their times; the presence check is what makes a point that lost a chunk fail here, loudly,
    /// instead of at restore.
    private func checkChunksPresent(_ indexes: [(String, FixedIndex)], point: RecoveryPointRef) throws(DatastoreError) {
        var seen = Set<ChunkDigest>([zeroDigest])
        var missing: [(disk: String, digest: ChunkDigest)] = []
        for (target, index) in indexes {
            for digest in index.digests where seen.insert(digest).inserted {
                if try !FileSystem.touch(chunkPath(digest)) { missing.append((target, digest)) }
            }
        }
        guard let first = missing.first else { return }
        throw DatastoreError(
            .chunkMissing,
            "recovery point \(point) names \(missing.count) chunk(s) the datastore at \(root) lacks, such as "
                + "\(first.digest) of disk \(first.disk); upload those chunks, then write the point again",
            digest: first.digest)
    }

    /// The VMs that have a folder in the datastore, in UUID order.
    public func listVMs() throws(DatastoreError) -> [UUID] {
        try (FileSystem.list(root) ?? []).compactMap { name in
            guard let uuid = UUID(uuidString: name), FileSystem.isDirectory("\(root)/\(name)") else { return nil }
            return uuid
        }.sorted { $0.uuidString < $1.uuidString }
    }

    /// The complete recovery points of `vm`, oldest first. Folders without a manifest (being written, or left by
    /// a writer that died) are not listed.
    public func listRecoveryPoints(vm: UUID) throws(DatastoreError) -> [RecoveryPointID] {
        let folder = vmPath(vm)
        return try (FileSystem.list(folder) ?? []).compactMap { name in
            guard let point = RecoveryPointID(name), FileSystem.exists("\(folder)/\(name)/\(Self.manifestName)") else {
                return nil
            }
            return point
        }.sorted()
    }

    /// Every complete recovery point in the datastore.
    public func listRecoveryPoints() throws(DatastoreError) -> [RecoveryPointRef] {
        var points: [RecoveryPointRef] = []
        for vm in try listVMs() {
            points += try listRecoveryPoints(vm: vm).map { RecoveryPointRef(vm: vm, point: $0) }
        }
        return points
    }

    /// The manifest of a complete recovery point.
    public func readManifest(_ point: RecoveryPointRef) throws(DatastoreError) -> RecoveryPointManifest {
        let path = "\(pointPath(point))/\(Self.manifestName)"
        guard let bytes = try FileSystem.read(path) else {
            throw DatastoreError(
                .pointNotFound,
                "there is no complete recovery point \(point) in the datastore at \(root); list the VM's points "
                    + "to see which exist")
        }
        let manifest: RecoveryPointManifest
        do {
            manifest = try JSONCoding.decode(RecoveryPointManifest.self, from: bytes)
        } catch {
            throw DatastoreError(
                .manifestCorrupt,
                "the manifest \(path) is not readable; the point cannot be restored from this datastore: delete it "
                    + "or restore the file from a copy of the datastore", cause: error)
        }
        guard manifest.formatVersion == RecoveryPointManifest.currentFormatVersion else {
            throw DatastoreError(
                .unsupportedFormat,
                "the manifest \(path) has format version \(manifest.formatVersion); this Bulwark reads version "
                    + "\(RecoveryPointManifest.currentFormatVersion): use the Bulwark that wrote it or a newer one")
        }
        guard manifest.vmUUID == point.vm, manifest.pointID == point.point else {
            throw DatastoreError(
                .manifestCorrupt,
                "the manifest \(path) describes point \(RecoveryPointRef(vm: manifest.vmUUID, point: manifest.pointID)) "
                    + "but lies in the folder of \(point); move it back where it belongs or delete the folder")
        }
        for disk in manifest.disks {
            guard (try? Self.validate(target: disk.target)) != nil, disk.indexFile == disk.target + Self.indexExtension
            else {
                throw DatastoreError(
                    .manifestCorrupt,
                    "the manifest \(path) names disk '\(disk.target)' with index file '\(disk.indexFile)'; a disk "
                        + "target is letters, digits, '-' and '_' and its index is '<target>.fidx': the file was edited")
            }
        }
        return manifest
    }

    /// The index of disk `target` of a complete recovery point, checked against the manifest's checksum and size.
    public func readIndex(_ point: RecoveryPointRef, disk target: String) throws(DatastoreError) -> FixedIndex {
        try readIndex(point, disk: target, manifest: readManifest(point))
    }

    func readIndex(
        _ point: RecoveryPointRef, disk target: String, manifest: RecoveryPointManifest
    ) throws(DatastoreError) -> FixedIndex {
        guard let disk = manifest.disk(target) else {
            let known = manifest.disks.map(\.target).joined(separator: ", ")
            throw DatastoreError(
                .diskNotFound, "recovery point \(point) has no disk '\(target)'; its disks are: \(known)")
        }
        let path = "\(pointPath(point))/\(disk.indexFile)"
        guard let bytes = try FileSystem.read(path) else {
            throw DatastoreError(
                .indexCorrupt,
                "the index \(path) of recovery point \(point) is missing; the point is damaged: delete it")
        }
        guard Self.sha256Hex(bytes) == disk.indexChecksum.lowercased() else {
            throw DatastoreError(
                .indexCorrupt,
                "the index \(path) does not match the checksum in its manifest (the file changed); the point is "
                    + "damaged: delete it, or restore the file from a copy of the datastore")
        }
        let index = try FixedIndex(decoding: bytes, source: path)
        guard index.logicalSize == disk.logicalSize, index.chunkSize == chunkSize else {
            throw DatastoreError(
                .indexCorrupt,
                "the index \(path) describes \(index.logicalSize) bytes in \(index.chunkSize)-byte chunks; the "
                    + "manifest says \(disk.logicalSize) bytes and the datastore uses \(chunkSize)-byte chunks")
        }
        return index
    }

    /// Deletes a recovery point's manifest and indexes. Its chunks stay until garbage collection finds no other
    /// point using them.
    public func deleteRecoveryPoint(_ point: RecoveryPointRef) throws(DatastoreError) {
        let folder = pointPath(point)
        let manifest = "\(folder)/\(Self.manifestName)"
        if let objectStore {
            guard FileSystem.exists(manifest) else {
                throw DatastoreError(
                    .pointNotFound,
                    "there is no complete recovery point \(point) in the datastore at \(root); nothing was deleted")
            }
            // The bucket's copy goes first: while it fails, the point stays whole in both places.
            try unpublishPoint(point, from: objectStore)
        }
        // The manifest goes first and alone: from then on the point is incomplete, so a crash half-way through
        // leaves a folder that listings ignore and garbage collection removes, never a point with lost indexes.
        guard try FileSystem.remove(manifest) else {
            throw DatastoreError(
                .pointNotFound,
                "there is no complete recovery point \(point) in the datastore at \(root); nothing was deleted")
        }
        try FileSystem.syncDirectory(folder)
        try FileSystem.removeTree(folder)
        try FileSystem.syncDirectory(vmPath(point.vm))
    }

    /// Checks that a disk target can name an index file: 1 to 64 letters, digits, `-` or `_`.
    static func validate(target: String) throws(DatastoreError) {
        guard isPlainName(target, maximumLength: 64) else {
            throw DatastoreError(
                .invalidArgument,
                "disk target '\(target)' cannot name an index file; use the target from the domain XML, such as vda")
        }
    }

    /// Whether `name` can name a file as it is: 1 to `maximumLength` letters, digits, `-` or `_`.
    static func isPlainName(_ name: String, maximumLength: Int) -> Bool {
        (1...maximumLength).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
                    || byte == UInt8(ascii: "_")
            }
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String { ChunkDigest.of(bytes).description }
}
