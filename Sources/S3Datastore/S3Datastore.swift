public import BulwarkStore
import Foundation
public import S3

/// Making and checking datastores whose durable copy is an S3 bucket.
public enum S3Datastore {
    /// The object that marks a datastore in a bucket, under the datastore's prefix: the same file as a local
    /// datastore's marker.
    public static let markerKey = ".bulwark-datastore"

    /// Checks that a new datastore can live in the client's bucket: the gateway answers over a trusted connection,
    /// the credentials work, the bucket exists, and it holds no datastore under the prefix yet.
    public static func checkNew(_ client: S3Client) async throws(S3Error) {
        try await client.checkBucket()
        if try await client.head(key: markerKey) != nil {
            let prefix = client.configuration.keyPrefix
            throw S3Error(
                .rejected,
                "bucket \"\(client.configuration.bucket)\" already holds a datastore"
                    + (prefix.isEmpty ? " at its root" : " under the prefix \(prefix)")
                    + "; choose another bucket or --prefix (two servers must never write to one datastore)")
        }
    }

    /// Writes the datastore's marker to the bucket, last: refuses when another server put one there meanwhile.
    public static func writeMarker(of store: Datastore, to client: S3Client) async throws(S3Error) {
        guard let marker = FileManager.default.contents(atPath: "\(store.root)/\(markerKey)") else {
            throw S3Error(.invalidArgument, "the datastore at \(store.root) has no marker to upload")
        }
        if try await client.put(key: markerKey, body: [UInt8](marker), ifNoneMatch: true) == .alreadyExists {
            throw S3Error(
                .rejected,
                "bucket \"\(client.configuration.bucket)\" received another datastore's marker while this one was "
                    + "made; choose another bucket or --prefix")
        }
    }
}
