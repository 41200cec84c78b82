import BulwarkAPI
import BulwarkClient
import BulwarkServer
import Foundation
import S3
import TestSupport
import Testing

/// `/v1/datastores` with `s3` against a running server and the real Ceph RADOS Gateway of `scripts/s3-testbed`:
/// a datastore made in a bucket, and each setting that cannot work refused with what to fix, leaving nothing.
@Suite(.serialized, .s3Gateway) struct S3DatastoreAPITests {
    /// A new bucket on the testbed and a credentials file for it (mode `mode`, secret key `secret` when given).
    static func bucket(in folder: TemporaryDirectory) async throws -> (S3Testbed.Environment, String, String) {
        let testbed = try await S3Testbed.shared.start()
        let name = "bw-api-\(UUID().uuidString.prefix(12).lowercased())"
        let client = try S3Client(
            configuration: try S3Configuration(
                endpoint: testbed.endpoint, bucket: name,
                credentials: S3Credentials(accessKey: testbed.accessKey, secretKey: testbed.secretKey)))
        try await client.createBucket()
        await client.shutdown()
        let keys = folder.file("s3.keys")
        try writeKeys(keys, access: testbed.accessKey, secret: testbed.secretKey)
        return (testbed, name, keys)
    }

    static func writeKeys(_ path: String, access: String, secret: String, mode: Int = 0o600) throws {
        try? FileManager.default.removeItem(atPath: path)
        _ = FileManager.default.createFile(
            atPath: path, contents: Data("access_key = \(access)\nsecret_key = \(secret)\n".utf8),
            attributes: [.posixPermissions: mode])
    }

    @Test func createShowAndEveryRefusal() async throws {
        let folder = try TemporaryDirectory("s3-datastores")
        defer { folder.cleanUp() }
        let (testbed, bucket, keys) = try await Self.bucket(in: folder)
        try await withServer { client, data in
            let good = DatastoreCreateRequest.S3(
                endpoint: testbed.tlsEndpoint.absoluteString, bucket: bucket, prefix: "site-a", credentialsFile: keys,
                caFile: testbed.caFile, cacheSize: "256M")
            let created: DatastoreView = try await client.post(
                "/v1/datastores", DatastoreCreateRequest(name: "offsite", path: nil, chunkSize: "1M", s3: good))
            #expect(created.backend == "s3")
            #expect(created.path == data.path + "/datastore-cache/offsite")
            #expect(created.s3?.prefix == "site-a/")
            #expect(created.s3?.reachable == true, "\(created.problem ?? "")")
            #expect(created.s3?.objects == 2, "the bucket should hold the datastore's marker and its writer's heartbeat")
            let list: [DatastoreView] = try await client.get("/v1/datastores")
            #expect(list.map(\.backend) == ["s3"])

            let wrongKeys = folder.file("wrong.keys")
            try Self.writeKeys(wrongKeys, access: testbed.accessKey, secret: "not-the-secret-key-at-all")
            let openKeys = folder.file("open.keys")
            try Self.writeKeys(openKeys, access: testbed.accessKey, secret: testbed.secretKey, mode: 0o644)
            // A CA that did not sign the gateway's certificate: the system's bundle.
            let otherCA = "/etc/ssl/certs/ca-certificates.crt"
            func variant(_ change: (inout DatastoreCreateRequest.S3) -> Void) -> DatastoreCreateRequest.S3 {
                var request = good
                request.prefix = "site-b"
                change(&request)
                return request
            }
            let cases: [(String, DatastoreCreateRequest.S3, String)] = [
                ("wrong-keys", variant { $0.credentialsFile = wrongKeys }, "secret"),
                ("open-keys", variant { $0.credentialsFile = openKeys }, "chmod 600"),
                ("no-keys", variant { $0.credentialsFile = folder.file("missing.keys") }, "missing.keys"),
                ("no-bucket", variant { $0.bucket = "bw-missing-\(UUID().uuidString.prefix(8).lowercased())" }, "bucket"),
                ("unreachable", variant { $0.endpoint = "https://127.0.0.1:1"; }, "127.0.0.1:1"),
                ("wrong-ca", variant { $0.caFile = otherCA }, "certificate"),
                ("bad-url", variant { $0.endpoint = "ftp://127.0.0.1" }, "http"),
                ("tiny-cache", variant { $0.cacheSize = "1M" }, "--cache-size"),
                ("same-keys", variant { $0.prefix = "site-a" }, "must not share keys"),
                // The same bucket and prefix through the other endpoint: the catalog cannot tell, the marker can.
                ("same-bucket", variant { $0.prefix = "site-a"; $0.endpoint = testbed.endpoint.absoluteString; $0.caFile = nil },
                 "already holds a datastore"),
            ]
            for (name, s3, fragment) in cases {
                let error = await #expect(throws: ClientError.self, "\(name)") {
                    let _: DatastoreView = try await client.post(
                        "/v1/datastores", DatastoreCreateRequest(name: name, path: nil, s3: s3))
                }
                #expect(error?.code == .rejected, "\(name): \(String(describing: error))")
                #expect(error?.message.contains(fragment) == true, "\(name): \(error?.message ?? "")")
                #expect(!FileManager.default.fileExists(atPath: data.path + "/datastore-cache/\(name)"), "\(name) left its cache folder")
            }
            let after: [DatastoreView] = try await client.get("/v1/datastores")
            #expect(after.map(\.name) == ["offsite"], "a refused create must not stay in the catalog")
            let missingPath = await #expect(throws: ClientError.self) {
                let _: DatastoreView = try await client.post("/v1/datastores", DatastoreCreateRequest(name: "nowhere", path: nil))
            }
            #expect(missingPath?.message.contains("--path") == true)
        }
    }
}
