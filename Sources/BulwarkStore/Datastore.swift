public import Foundation

/// A datastore: a folder of content-addressed chunks and the recovery points that index them.
///
/// ```
/// <root>/.bulwark-datastore                  marker: format version, uuid, chunk size (JSON)
/// <root>/.lock                               flock(2) target: garbage collection against point commits
/// <root>/.chunks/<first 4 hex>/<sha256 hex>  chunk files (see ``ChunkFile``)
/// <root>/<vm uuid>/<point id>/<target>.fidx  one fixed index per disk
/// <root>/<vm uuid>/<point id>/manifest.json  written last: a point without it is incomplete
/// ```
///
/// The files are the only state, so a `Datastore` is a plain `Sendable` value: any number of threads (and
/// processes) may use the same folder at once. Every call does blocking file I/O; run them on threads of your own,
/// not on Swift's cooperative pool.
public struct Datastore: Sendable {
    /// The datastore's folder, absolute.
    public let root: String
    /// What the marker file says.
    public let configuration: DatastoreConfiguration
    /// The digest that stands for a chunk of zeros (see ``ChunkDigest/zero(chunkSize:)``).
    public let zeroDigest: ChunkDigest
    /// Where the durable copy lives when the folder is only a cache of it (see ``backed(by:)``); nil for a datastore
    /// that is its folder.
    public private(set) var objectStore: (any ObjectStore)?

    static let markerName = ".bulwark-datastore"
    static let lockName = ".lock"
    static let chunksName = ".chunks"

    /// Every chunk but a disk's last holds exactly this many plain bytes.
    public var chunkSize: Int { configuration.chunkSize }

    private init(root: String, configuration: DatastoreConfiguration) {
        self.root = root
        self.configuration = configuration
        zeroDigest = ChunkDigest.zero(chunkSize: configuration.chunkSize)
        objectStore = nil
    }

    /// This datastore with `store` as its durable copy and its folder as the cache in front of it.
    ///
    /// The folder keeps every manifest and index and a name for every chunk, so listings, chunk queries and
    /// garbage collection's mark never ask the bucket; chunk contents may be evicted (``trimCache(toBytes:)``)
    /// and are fetched again when read. See `Datastore+ObjectStore.swift` for the order of writes.
    public func backed(by store: any ObjectStore) -> Datastore {
        var copy = self
        copy.objectStore = store
        return copy
    }

    /// Makes a new datastore at `path`, which must be a missing or empty folder that is not inside another
    /// datastore. Missing parent folders are created.
    public static func create(
        at path: String, chunkSize: Int = DatastoreConfiguration.defaultChunkSize, now: Date = Date()
    ) throws(DatastoreError) -> Datastore {
        try DatastoreConfiguration.validate(chunkSize: chunkSize)
        let root = absolute(path)
        if let outer = enclosingDatastore(of: root) {
            throw DatastoreError(
                .nestedDatastore,
                "cannot create a datastore at \(root): it is inside the datastore at \(outer); "
                    + "choose a folder outside it (datastores must not nest, or one's garbage collection would "
                    + "see the other's files)")
        }
        if FileSystem.exists(root) {
            guard FileSystem.isDirectory(root) else {
                throw DatastoreError(
                    .notADirectory, "cannot create a datastore at \(root): it is a file, not a folder; choose a folder")
            }
            let names = try FileSystem.list(root) ?? []
            if names.contains(markerName) {
                throw DatastoreError(
                    .alreadyExists, "there is a datastore at \(root) already; open it instead of creating one")
            }
            if !names.isEmpty {
                let sample = names.sorted().prefix(3).map { "'\($0)'" }.joined(separator: ", ")
                throw DatastoreError(
                    .notEmpty,
                    "cannot create a datastore at \(root): the folder holds \(names.count) entries (\(sample)); "
                        + "choose an empty or missing folder")
            }
        } else {
            try makeDirectories(root)
        }
        let chunks = "\(root)/\(chunksName)"
        do {
            try makePrivate(root)
            try FileSystem.makeDirectory(chunks)
            let marker = try JSONCoding.encode(DatastoreConfiguration(chunkSize: chunkSize, createdAt: now))
            // What `open` will read (times kept to the millisecond), so both give equal configurations.
            let configuration = try JSONCoding.decode(DatastoreConfiguration.self, from: marker)
            try FileSystem.writeAtomically([], to: "\(root)/\(lockName)")
            // The marker is written last: a folder without it is not a datastore, whatever else is in it.
            try FileSystem.writeAtomically(marker, to: "\(root)/\(markerName)")
            try FileSystem.syncDirectory(FileSystem.parent(of: root))
            return Datastore(root: root, configuration: configuration)
        } catch let error as DatastoreError where error.code == .io {
            throw DatastoreError(
                .notWritable,
                "cannot create a datastore at \(root): \(error.message)", cause: error)
        } catch let error as DatastoreError {
            throw error
        } catch {
            throw DatastoreError(.io, "cannot write the datastore marker at \(root)", cause: error)
        }
    }

    /// Opens the datastore at `path`, reading its marker.
    public static func open(at path: String) throws(DatastoreError) -> Datastore {
        let root = absolute(path)
        let markerPath = "\(root)/\(markerName)"
        guard FileSystem.isDirectory(root), let bytes = try FileSystem.read(markerPath) else {
            throw DatastoreError(
                .notADatastore,
                "\(root) is not a datastore (no \(markerName) file); check the path, or create a datastore there")
        }
        let configuration: DatastoreConfiguration
        do {
            configuration = try JSONCoding.decode(DatastoreConfiguration.self, from: bytes)
        } catch {
            throw DatastoreError(
                .notADatastore,
                "\(markerPath) is not a readable datastore marker; restore it from a backup of the datastore "
                    + "(it names the format version, uuid and chunk size)", cause: error)
        }
        guard configuration.formatVersion == DatastoreConfiguration.currentFormatVersion else {
            throw DatastoreError(
                .unsupportedFormat,
                "the datastore at \(root) has format version \(configuration.formatVersion); this Bulwark reads "
                    + "version \(DatastoreConfiguration.currentFormatVersion): use the Bulwark that wrote it or a newer one")
        }
        do {
            try DatastoreConfiguration.validate(chunkSize: configuration.chunkSize)
        } catch {
            throw DatastoreError(
                .notADatastore, "\(markerPath) names an impossible chunk size; the marker is damaged", cause: error)
        }
        guard FileSystem.isDirectory("\(root)/\(chunksName)") else {
            throw DatastoreError(
                .notADatastore,
                "the datastore at \(root) has no \(chunksName) folder: its chunks are gone or the path is wrong")
        }
        try makePrivate(root)
        return Datastore(root: root, configuration: configuration)
    }

    /// Closes the datastore's folder to other users (mode 0700): every VM's data is in it. A folder made before
    /// Bulwark did this, or opened up by hand, is closed again; one that cannot be is an error naming the fix.
    static func makePrivate(_ root: String) throws(DatastoreError) {
        var status = stat()
        guard stat(root, &status) == 0 else { throw .system("read the mode of", root, errno: errno) }
        guard status.st_mode & 0o077 != 0 else { return }
        guard chmod(root, status.st_mode & 0o700) == 0 else {
            throw DatastoreError(
                .notWritable,
                "the datastore at \(root) is open to other users (mode \(String(status.st_mode & 0o777, radix: 8))) and cannot be closed: \(String(cString: strerror(errno))); run chmod 700 \(root)")
        }
    }

    // MARK: - Paths

    var chunksPath: String { "\(root)/\(Self.chunksName)" }

    func chunkFolder(_ digest: ChunkDigest) -> String {
        "\(chunksPath)/\(digest.description.prefix(4))"
    }

    func chunkPath(_ digest: ChunkDigest) -> String {
        let hex = digest.description
        return "\(chunksPath)/\(hex.prefix(4))/\(hex)"
    }

    func vmPath(_ vm: UUID) -> String { "\(root)/\(vm.uuidString.lowercased())" }

    // MARK: - Helpers

    /// `path` made absolute and tidy (no `.`, `..` or trailing slash).
    static func absolute(_ path: String) -> String {
        let base = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var parts: [Substring] = []
        for part in base.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": _ = parts.popLast()
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The datastore that `path` would be inside, looking at its ancestors both as written and with links
    /// resolved.
    static func enclosingDatastore(of path: String) -> String? {
        var candidates = [path]
        var existing = path
        while !FileSystem.exists(existing), existing != "/" { existing = FileSystem.parent(of: existing) }
        if let resolved = realpath(existing, nil) {
            candidates.append(String(cString: resolved))
            free(resolved)
        }
        for candidate in candidates {
            var folder = candidate
            while folder != "/" {
                folder = FileSystem.parent(of: folder)
                if FileSystem.exists("\(folder == "/" ? "" : folder)/\(markerName)") { return folder }
            }
        }
        return nil
    }

    /// Creates `path` and any missing parents; failures mean the path is not writable.
    static func makeDirectories(_ path: String) throws(DatastoreError) {
        var missing: [String] = []
        var folder = path
        while !FileSystem.exists(folder), folder != "/" {
            missing.append(folder)
            folder = FileSystem.parent(of: folder)
        }
        for folder in missing.reversed() {
            do {
                try FileSystem.makeDirectory(folder)
            } catch {
                throw DatastoreError(
                    .notWritable,
                    "cannot create a datastore at \(path): \(error.message); choose a path on a writable file system",
                    cause: error)
            }
        }
    }
}
