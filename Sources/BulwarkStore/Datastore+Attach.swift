internal import BulwarkCore
import Foundation

extension Datastore {
    /// Makes the local cache of an S3 datastore from its bucket alone, for a server that did not write it (rebuilt
    /// after losing its data directory): every manifest, index and catalog copy is downloaded, every chunk gets an
    /// empty, uploaded name (its contents are fetched when read), and the bucket's marker is written last.
    ///
    /// `path` must be a missing or empty folder. The bucket is not trusted: only keys of the datastore's own shapes
    /// are taken (`.chunks/<4 hex>/<digest>`, `<vm uuid>/<point id>/<target>.fidx|manifest.json`,
    /// `.catalog/catalog-<time>.sqlite`); anything else is left where it is.
    public static func rebuildCache(at path: String, from store: any ObjectStore) throws(DatastoreError) -> Datastore {
        guard let marker = try store.get(key: markerName) else {
            throw DatastoreError(
                .notADatastore,
                "\(store) holds no datastore (no \(markerName) object); check the bucket and --prefix")
        }
        let root = absolute(path)
        if FileSystem.exists(root) {
            guard (try FileSystem.list(root) ?? []).isEmpty else {
                throw DatastoreError(
                    .notEmpty, "the cache folder \(root) is not empty; give a missing or empty folder with --cache")
            }
        } else {
            try makeDirectories(root)
        }
        try makePrivate(root)
        try FileSystem.makeDirectory("\(root)/\(chunksName)")
        try FileSystem.writeAtomically([], to: "\(root)/\(lockName)")
        for key in try store.list(prefix: "") {
            let parts = key.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            if parts.count == 3, parts[0] == chunksName, let digest = ChunkDigest(parts[2]),
                digest.description == parts[2], parts[1] == String(parts[2].prefix(4))
            {
                let folder = "\(root)/\(chunksName)/\(parts[1])"
                try FileSystem.makeDirectory(folder)
                let file = "\(folder)/\(parts[2])"
                if !FileSystem.exists(file) { try FileSystem.writeNew([], to: file, mode: uploadedMode) }
            } else if Self.isPointFile(parts) || (parts.count == 2 && parts[0] == catalogCopiesName
                && catalogCopyTime(parts[1]) != nil)
            {
                guard let bytes = try store.get(key: key) else { continue }
                try FileSystem.makeDirectory("\(root)/\(parts[0])")
                if parts.count == 3 { try FileSystem.makeDirectory("\(root)/\(parts[0])/\(parts[1])") }
                try FileSystem.writeAtomically(bytes, to: "\(root)/\(key)", durable: false)
            }
        }
        try FileSystem.syncFileSystem(of: root)
        try FileSystem.writeAtomically(marker, to: "\(root)/\(markerName)")
        return try open(at: root).backed(by: store)
    }

    /// Whether key parts name a point's manifest or index.
    private static func isPointFile(_ parts: [String]) -> Bool {
        guard parts.count == 3, UUID(uuidString: parts[0]) != nil, parts[0] == parts[0].lowercased(),
            RecoveryPointID(parts[1]) != nil
        else { return false }
        if parts[2] == manifestName { return true }
        guard parts[2].hasSuffix(indexExtension) else { return false }
        return isPlainName(String(parts[2].dropLast(indexExtension.count)), maximumLength: 64)
    }
}
