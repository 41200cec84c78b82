import Foundation
import S3
import TestSupport
import Testing

/// The client against a real Ceph RADOS Gateway (`scripts/s3-testbed`), never a mock.
///
/// Serialized: one test stops the gateway, which the others would take for a failure of their own.
@Suite(.serialized, .s3Gateway) struct S3GatewayTests {
    /// A client of a new bucket on the testbed (created unless `create` is false), with any changes `adjust` makes.
    static func client(
        create: Bool = true, tls: Bool = false, _ adjust: (inout S3Configuration) -> Void = { _ in }
    ) async throws -> S3Client {
        let testbed = try await S3Testbed.shared.start()
        var configuration = try S3Configuration(
            endpoint: tls ? testbed.tlsEndpoint : testbed.endpoint,
            bucket: "bw-\(UUID().uuidString.prefix(12).lowercased())", keyPrefix: "ds/",
            credentials: S3Credentials(accessKey: testbed.accessKey, secretKey: testbed.secretKey),
            caFile: tls ? testbed.caFile : nil, requestTimeout: .seconds(60), maxAttempts: 3)
        adjust(&configuration)
        let client = try S3Client(configuration: configuration)
        if create { try await client.createBucket() }
        return client
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    @Test func putAndGetAreByteIdentical() async throws {
        let client = try await Self.client()
        defer { Task { await client.shutdown() } }
        try await client.checkBucket()
        let large = Self.randomBytes(4 << 20)
        #expect(try await client.put(key: "chunks/large", body: large) != .alreadyExists)
        try await client.put(key: "chunks/empty", body: [])
        try await client.put(key: "odd key/ü & +=?.bin", body: [1, 2, 3])
        #expect(try await client.get(key: "chunks/large") == large)
        #expect(try await client.get(key: "chunks/empty") == [])
        #expect(try await client.get(key: "odd key/ü & +=?.bin") == [1, 2, 3])
        #expect(try await client.get(key: "chunks/large", range: 1000..<1010) == Array(large[1000..<1010]))
        #expect(try await client.get(key: "chunks/large", range: 0..<1) == [large[0]])

        let head = try #require(try await client.head(key: "chunks/large"))
        #expect(head.size == 4 << 20)
        #expect(head.etag?.count == 32)
        #expect(try await client.head(key: "chunks/missing") == nil)
        let missing = await #expect(throws: S3Error.self) { try await client.get(key: "chunks/missing") }
        #expect(missing?.code == .noSuchKey)
    }

    @Test func ifNoneMatchDoesNotOverwrite() async throws {
        let client = try await Self.client()
        defer { Task { await client.shutdown() } }
        guard case .stored = try await client.put(key: "once", body: [1], ifNoneMatch: true) else {
            Issue.record("the first put with If-None-Match did not store")
            return
        }
        #expect(try await client.put(key: "once", body: [2], ifNoneMatch: true) == .alreadyExists)
        #expect(try await client.get(key: "once") == [1])
    }

    @Test func listingPagesPastAThousandKeys() async throws {
        let client = try await Self.client()
        defer { Task { await client.shutdown() } }
        let count = 1_234
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            for _ in 0..<32 {
                let index = next
                next += 1
                group.addTask { try await client.put(key: "many/\(String(format: "%05d", index))", body: [UInt8(index & 0xff)]) }
            }
            while try await group.next() != nil, next < count {
                let index = next
                next += 1
                group.addTask { try await client.put(key: "many/\(String(format: "%05d", index))", body: [UInt8(index & 0xff)]) }
            }
        }
        try await client.put(key: "other/x", body: [9, 9])

        let all = try await client.list(prefix: "many/")
        #expect(all.count == count)
        #expect(all.map(\.key) == (0..<count).map { "many/\(String(format: "%05d", $0))" })
        #expect(all.allSatisfy { $0.size == 1 })
        #expect(try await client.list().count == count + 1)

        let first = try await client.listPage(prefix: "many/", maxKeys: 500)
        #expect(first.objects.count == 500 && first.isTruncated)
        let second = try await client.listPage(prefix: "many/", continuationToken: first.nextContinuationToken, maxKeys: 500)
        #expect(second.objects.first?.key == "many/00500")

        let failed = try await client.deleteObjects(keys: all.map(\.key) + ["many/never-existed"])
        #expect(failed.isEmpty)
        #expect(try await client.list(prefix: "many/").isEmpty)
        try await client.delete(key: "other/x")
        try await client.delete(key: "other/x")
        #expect(try await client.list().isEmpty)
    }

    @Test func aWrongSecretIsACredentialsError() async throws {
        let client = try await Self.client()
        defer { Task { await client.shutdown() } }
        let wrong = try await Self.client(create: false) {
            $0.bucket = client.configuration.bucket
            $0.credentials.secretKey = "not-the-secret-0123456789"
        }
        defer { Task { await wrong.shutdown() } }
        let check = await #expect(throws: S3Error.self) { try await wrong.checkBucket() }
        #expect(check?.code == .invalidCredentials)
        #expect(check?.message.contains("secret") == true)
        #expect(check?.description.contains("not-the-secret") == false)
        let put = await #expect(throws: S3Error.self) { try await wrong.put(key: "k", body: [1]) }
        #expect(put?.code == .invalidCredentials)

        let unknown = try await Self.client(create: false) { $0.credentials.accessKey = "NOSUCHACCESSKEY00000" }
        defer { Task { await unknown.shutdown() } }
        let error = await #expect(throws: S3Error.self) { try await unknown.checkBucket() }
        #expect(error?.code == .invalidCredentials)
        #expect(error?.message.contains("NOSUCHACCESSKEY00000") == true)
    }

    @Test func aMissingBucketIsNamed() async throws {
        let client = try await Self.client(create: false)
        defer { Task { await client.shutdown() } }
        let error = await #expect(throws: S3Error.self) { try await client.checkBucket() }
        #expect(error?.code == .noSuchBucket)
        #expect(error?.message.contains(client.configuration.bucket) == true)
        let put = await #expect(throws: S3Error.self) { try await client.put(key: "k", body: [1]) }
        #expect(put?.code == .noSuchBucket)
    }

    @Test func anUnreachableEndpointSaysSo() async throws {
        let port = try freePort()
        let client = try await Self.client(create: false) {
            $0.endpoint = URL(string: "http://127.0.0.1:\(port)")!
            $0.maxAttempts = 2
        }
        defer { Task { await client.shutdown() } }
        let error = await #expect(throws: S3Error.self) { try await client.checkBucket() }
        #expect(error?.code == .unreachable)
        #expect(error?.message.contains("127.0.0.1:\(port)") == true)

        let unresolvable = try await Self.client(create: false) {
            $0.endpoint = URL(string: "http://no-such-host.invalid:7480")!
            $0.maxAttempts = 1
        }
        defer { Task { await unresolvable.shutdown() } }
        let dns = await #expect(throws: S3Error.self) { try await unresolvable.checkBucket() }
        #expect(dns?.code == .unreachable)
    }

    @Test func httpsWithTheTestbedCAWorks() async throws {
        let client = try await Self.client(tls: true)
        defer { Task { await client.shutdown() } }
        try await client.checkBucket()
        let bytes = Self.randomBytes(100_000)
        try await client.put(key: "tls", body: bytes)
        #expect(try await client.get(key: "tls") == bytes)
    }

    @Test func httpsWithAnotherCAIsACertificateError() async throws {
        let folder = try TemporaryDirectory("s3-other-ca")
        defer { folder.cleanUp() }
        try ChildProcess.run(
            "openssl",
            ["req", "-x509", "-new", "-nodes", "-newkey", "rsa:2048", "-days", "2", "-subj", "/CN=Another CA",
                "-keyout", folder.file("ca.key"), "-out", folder.file("ca.pem")])
        let client = try await Self.client(create: false, tls: true) { $0.caFile = folder.file("ca.pem") }
        defer { Task { await client.shutdown() } }
        let error = await #expect(throws: S3Error.self) { try await client.checkBucket() }
        #expect(error?.code == .certificate)
        #expect(error?.message.contains(folder.file("ca.pem")) == true)

        // Without a CA file the system's CAs are trusted, and they did not sign the testbed's certificate either.
        let system = try await Self.client(create: false, tls: true) { $0.caFile = nil }
        defer { Task { await system.shutdown() } }
        #expect(await #expect(throws: S3Error.self) { try await system.checkBucket() }?.code == .certificate)
    }

    @Test func aStoppedGatewayIsTransientAndRequestsWorkAfterItsRestart() async throws {
        let client = try await Self.client()
        defer { Task { await client.shutdown() } }
        try await client.put(key: "before", body: [1])

        try await S3Testbed.shared.stopGateway()
        do {
            let short = try await Self.client(create: false) {
                $0.bucket = client.configuration.bucket
                $0.requestTimeout = .seconds(5)
                $0.maxAttempts = 2
            }
            defer { Task { await short.shutdown() } }
            let error = await #expect(throws: S3Error.self) { try await short.put(key: "during", body: [2]) }
            #expect(error.map { S3RetryPolicy.isRetryable($0) } == true)
            #expect(error?.code == .unreachable)

            // A put that keeps retrying while the gateway comes back ends stored.
            let patient = try await Self.client(create: false) {
                $0.bucket = client.configuration.bucket
                $0.maxAttempts = 20
            }
            defer { Task { await patient.shutdown() } }
            let put = Task { try await patient.put(key: "across-restart", body: [3]) }
            try await S3Testbed.shared.startGateway()
            #expect(try await put.value != .alreadyExists)
        } catch {
            // The other tests need the gateway whatever failed here.
            try? await S3Testbed.shared.startGateway()
            throw error
        }
        #expect(try await client.get(key: "before") == [1])
        #expect(try await client.get(key: "across-restart") == [3])
    }

    @Test func aHangingGatewayEndsInATimeout() async throws {
        let client = try await Self.client()
        defer { Task { await client.shutdown() } }
        try await client.put(key: "before", body: [1])
        let short = try await Self.client(create: false) {
            $0.bucket = client.configuration.bucket
            $0.requestTimeout = .seconds(2)
            $0.maxAttempts = 3
        }
        defer { Task { await short.shutdown() } }

        try await S3Testbed.shared.freezeGateway()
        let error: S3Error?
        do {
            error = await #expect(throws: S3Error.self) { try await short.put(key: "during", body: [2]) }
        }
        try await S3Testbed.shared.thawGateway()
        #expect(error?.code == .timeout)
        #expect(error?.message.contains("within") == true)
        #expect(try await short.get(key: "before") == [1])
    }

    /// Each way a bucket check fails has its own code; the messages go to the test log for a reader to judge.
    @Test func bucketCheckFailuresAreDistinct() async throws {
        let port = try freePort()
        let unreachable = try await Self.client(create: false) {
            $0.endpoint = URL(string: "http://127.0.0.1:\(port)")!
            $0.maxAttempts = 2
        }
        defer { Task { await unreachable.shutdown() } }
        let missing = try await Self.client(create: false)
        defer { Task { await missing.shutdown() } }
        let wrong = try await Self.client(create: false) { $0.credentials.secretKey = "wrong-secret" }
        defer { Task { await wrong.shutdown() } }
        let otherCA = try await Self.client(create: false, tls: true) { $0.caFile = nil }
        defer { Task { await otherCA.shutdown() } }
        var codes: [S3Error.Code] = []
        for client in [unreachable, missing, wrong, otherCA] {
            do {
                try await client.checkBucket()
            } catch {
                print("S3 error [\(error.code)]: \(error)")
                codes.append(error.code)
            }
        }
        #expect(codes == [.unreachable, .noSuchBucket, .invalidCredentials, .certificate])
    }
}
