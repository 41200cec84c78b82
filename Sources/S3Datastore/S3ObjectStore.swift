public import BulwarkStore
import Dispatch
import Foundation
public import S3
import Synchronization

/// A datastore's durable copy in an S3 bucket: ``ObjectStore`` over ``S3Client``.
///
/// The datastore calls it from threads of its own and waits; each call runs the client's async requests as a task
/// and blocks the calling thread on a semaphore until they end, so it must never be called from Swift's cooperative
/// pool (bulwarkd calls it from its datastore threads).
public final class S3ObjectStore: ObjectStore {
    public let client: S3Client
    /// Uploads in flight at once when a commit sends many chunks.
    let parallelUploads: Int

    public init(client: S3Client, parallelUploads: Int = 8) {
        self.client = client
        self.parallelUploads = max(1, parallelUploads)
    }

    public var description: String {
        let configuration = client.configuration
        let prefix = configuration.keyPrefix.isEmpty ? "" : " under \(configuration.keyPrefix)"
        return "bucket \"\(configuration.bucket)\" at \(configuration.endpoint.absoluteString)\(prefix)"
    }

    public func put(key: String, bytes: [UInt8], ifAbsent: Bool) throws(DatastoreError) -> Bool {
        let client = client
        return try wait("store \(key)") { () async throws(S3Error) in
            switch try await client.put(key: key, body: bytes, ifNoneMatch: ifAbsent) {
            case .stored: true
            case .alreadyExists: false
            }
        }
    }

    public func put(files: [(key: String, path: String)]) throws(DatastoreError) {
        let client = client
        var start = 0
        while start < files.count {
            // A batch read here, on the calling thread (file I/O stays off the cooperative pool), then sent at once.
            let batch = try files[start..<min(start + parallelUploads, files.count)].map {
                file throws(DatastoreError) -> (key: String, bytes: [UInt8]) in
                guard let data = FileManager.default.contents(atPath: file.path), !data.isEmpty else {
                    throw DatastoreError(
                        .chunkMissing, "cannot read \(file.path) to upload it to \(self); run a verify of the datastore")
                }
                return (file.key, [UInt8](data))
            }
            try wait("store \(batch.count) chunk(s)") { () async throws(S3Error) in
                do {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for object in batch {
                            group.addTask { _ = try await client.put(key: object.key, body: object.bytes) }
                        }
                        try await group.waitForAll()
                    }
                } catch let error as S3Error {
                    throw error
                } catch {
                    throw S3Error(.cancelled, "the upload was cancelled", cause: error)
                }
            }
            start += batch.count
        }
    }

    public func get(key: String) throws(DatastoreError) -> [UInt8]? {
        let client = client
        return try wait("read \(key)") { () async throws(S3Error) -> [UInt8]? in
            do throws(S3Error) {
                return try await client.get(key: key)
            } catch where error.code == .noSuchKey {
                return nil
            }
        }
    }

    public func delete(keys: [String]) throws(DatastoreError) {
        let client = client
        var start = 0
        while start < keys.count {
            // S3 deletes at most 1,000 keys per request.
            let batch = Array(keys[start..<min(start + 1000, keys.count)])
            let failures = try wait("delete \(batch.count) object(s)") { () async throws(S3Error) in
                try await client.deleteObjects(keys: batch)
            }
            if let failure = failures.first(where: { $0.code != "NoSuchKey" }) {
                throw DatastoreError(
                    .backendUnavailable,
                    "\(self) did not delete \(failure.key): \(failure.code) \(failure.message); the next garbage "
                        + "collection tries again")
            }
            start += batch.count
        }
    }

    public func list(prefix: String) throws(DatastoreError) -> [String] {
        let client = client
        return try wait("list the objects") { () async throws(S3Error) in try await client.list(prefix: prefix) }.map(\.key)
    }

    public func usage(prefix: String) throws(DatastoreError) -> (objects: Int, bytes: UInt64) {
        let client = client
        let objects = try wait("list the objects") { () async throws(S3Error) in try await client.list(prefix: prefix) }
        return (objects.count, objects.reduce(0) { $0 + UInt64(max(0, $1.size)) })
    }

    /// Runs `body` as a task and waits for it on this thread.
    private func wait<T: Sendable>(
        _ what: String, _ body: @escaping @Sendable () async throws(S3Error) -> T
    ) throws(DatastoreError) -> T {
        let outcome = Mutex<Result<T, S3Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let result: Result<T, S3Error>
            do throws(S3Error) {
                result = .success(try await body())
            } catch {
                result = .failure(error)
            }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        switch outcome.withLock({ $0 })! {
        case .success(let value): return value
        case .failure(let error): throw Self.datastoreError(error, what: what, store: description)
        }
    }

    /// The datastore's view of an S3 failure: worth retrying later, or a setting to fix.
    static func datastoreError(_ error: S3Error, what: String, store: String) -> DatastoreError {
        let passing: Set<S3Error.Code> = [.unreachable, .timeout, .server, .cancelled, .invalidResponse]
        return DatastoreError(
            passing.contains(error.code) ? .backendUnavailable : .backendRefused,
            "cannot \(what) in the datastore's \(store): \(error.message)", cause: error)
    }
}
