import BulwarkAPI
import BulwarkClient
import BulwarkCore
import BulwarkStore
import Crypto
import Foundation
import Libvirt
import S3
import S3Datastore
import TestSupport
import Testing

/// The whole product on this machine for one test: a real `bulwarkd`, a real `bulwark-agent` enrolled with it and
/// talking to the real libvirtd, a datastore and a protection group. Every part is the built binary, so a test
/// can kill one with SIGKILL.
final class Testbed: @unchecked Sendable {
    let directory: TemporaryDirectory
    private(set) var client: BulwarkAPIClient
    let host = "testhost"
    private(set) var server: ChildProcess
    private(set) var agent: ChildProcess?
    var datastorePath: String { directory.file("datastore") }
    var agentState: String { directory.file("agent") }
    var serverLog: String { directory.file("bulwarkd.log") }
    var agentLog: String { directory.file("agent.log") }

    /// bulwarkd's scheduler and retry options, kept for restarts.
    private let scheduler: [String]
    /// The bucket behind datastore `main` when it is an S3 datastore (see ``start(chunkSize:policy:datastoreLimit:schedulerInterval:retries:s3CacheSize:)``).
    private(set) var bucket: S3Client?

    private init(directory: TemporaryDirectory, server: ChildProcess, client: BulwarkAPIClient, scheduler: [String]) {
        self.directory = directory
        self.server = server
        self.client = client
        self.scheduler = scheduler
    }

    /// Starts bulwarkd, enrolls and starts an agent, and makes datastore `main` (chunk size `chunkSize`) and group
    /// `gold` with `policy`.
    ///
    /// With `datastoreLimit` (a tmpfs size such as `24m`) the datastore lives on a file system of that size, so a
    /// test can fill it.
    ///
    /// Tests ask for every sync themselves, so bulwarkd runs without its scheduler unless `schedulerInterval` (in
    /// seconds) asks for one, and without retries of failed syncs unless `retries` asks for them.
    static func start(
        chunkSize: String = "1M", policy: ProtectionPolicy.Options = .init(), datastoreLimit: String? = nil,
        schedulerInterval: Int? = nil, retries: (count: Int, delay: String)? = nil, s3CacheSize: String? = nil
    ) async throws -> Testbed {
        var policy = policy
        // Tests start each sync themselves, unless they are about the initial replica.
        if policy.replicaCreation == nil { policy.replicaCreation = "manual" }
        let directory = try TemporaryDirectory("bulwark-testbed")
        if let datastoreLimit {
            try FileManager.default.createDirectory(atPath: directory.file("datastore"), withIntermediateDirectories: true)
            try ChildProcess.run("mount", ["-t", "tmpfs", "-o", "size=\(datastoreLimit)", "tmpfs", directory.file("datastore")])
        }
        let scheduler = (schedulerInterval.map { ["--scheduler-interval", "\($0)"] } ?? ["--no-scheduler"])
            + (retries.map { ["--retries", "\($0.count)", "--retry-delay", $0.delay] } ?? ["--retries", "0"])
        let server = try startServer(directory, scheduler: scheduler)
        let client = try BulwarkAPIClient(
            configuration: try ClientConfiguration.resolve(
                server: nil, token: nil, ca: nil, environment: ["BULWARK_DATA_DIR": directory.file("server")]))
        let testbed = Testbed(directory: directory, server: server, client: client, scheduler: scheduler)
        do {
            let token: EnrollmentTokenView = try await client.post("/v1/agents/tokens", EnrollmentTokenRequest(host: testbed.host))
            let url = try String(contentsOfFile: directory.file("server/address"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            try ChildProcess.run(
                productPath("bulwark-agent"),
                ["enroll", "--server", url, "--token", token.token, "--name", testbed.host, "--state-dir", testbed.agentState])
            try testbed.startAgent()
            if let s3CacheSize {
                try await testbed.makeS3Datastore(chunkSize: chunkSize, cacheSize: s3CacheSize)
            } else {
                let _: DatastoreView = try await client.post(
                    "/v1/datastores", DatastoreCreateRequest(name: "main", path: testbed.datastorePath, chunkSize: chunkSize))
            }
            let _: GroupView = try await client.post(
                "/v1/groups", GroupCreateRequest(name: "gold", datastore: "main", policy: policy))
        } catch {
            testbed.stop()
            throw error
        }
        return testbed
    }

    private static func startServer(
        _ directory: TemporaryDirectory, listen: String = "127.0.0.1:0", scheduler: [String]
    ) throws -> ChildProcess {
        let data = directory.file("server")
        try? FileManager.default.removeItem(atPath: "\(data)/address")
        let server = try ChildProcess(
            productPath("bulwarkd"), ["--data-dir", data, "--listen", listen, "--log-level", "info"] + scheduler,
            logFile: directory.file("bulwarkd.log"))
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: "\(data)/address") {
            guard server.isRunning, Date() < deadline else {
                throw TestFailure("bulwarkd did not start: \(server.wait().output)")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return server
    }

    /// Datastore `main` in a new bucket of the S3 testbed (the real Ceph RADOS Gateway), its cache in
    /// ``datastorePath``, its keys in a file of mode 0600 as an administrator would write them.
    private func makeS3Datastore(chunkSize: String, cacheSize: String) async throws {
        let testbed = try await S3Testbed.shared.start()
        let configuration = try S3Configuration(
            endpoint: testbed.tlsEndpoint, bucket: "bw-it-\(UUID().uuidString.prefix(12).lowercased())",
            keyPrefix: "main/", credentials: S3Credentials(accessKey: testbed.accessKey, secretKey: testbed.secretKey),
            caFile: testbed.caFile)
        let bucket = try S3Client(configuration: configuration)
        self.bucket = bucket
        try await bucket.createBucket()
        let keys = directory.file("s3.keys")
        _ = FileManager.default.createFile(
            atPath: keys, contents: Data("access_key = \(testbed.accessKey)\nsecret_key = \(testbed.secretKey)\n".utf8),
            attributes: [.posixPermissions: 0o600])
        s3CacheSize = cacheSize
        let _: DatastoreView = try await client.post(
            "/v1/datastores",
            DatastoreCreateRequest(name: "main", path: datastorePath, chunkSize: chunkSize, s3: try s3Request()))
    }

    private var s3CacheSize: String?

    /// Where datastore `main`'s bucket is, as a create or attach request names it.
    func s3Request() throws -> DatastoreCreateRequest.S3 {
        guard let bucket else { throw TestFailure("datastore main is not on S3") }
        let configuration = bucket.configuration
        return .init(
            endpoint: configuration.endpoint.absoluteString, bucket: configuration.bucket, prefix: "main",
            credentialsFile: directory.file("s3.keys"), caFile: configuration.caFile, cacheSize: s3CacheSize)
    }

    /// The keys of the objects in the bucket behind datastore `main`.
    func bucketKeys() async throws -> [String] {
        guard let bucket else { throw TestFailure("datastore main is not on S3") }
        return try await bucket.list().map(\.key)
    }

    /// SHA-256 of disk `target` of `point` as the S3 datastore restores it, its chunk contents read from the bucket
    /// where the cache evicted them; on a thread of its own, as the object store blocks while it waits.
    func restoredDigestFromBucket(vm: UUID, point: String, disk target: String) async throws -> String {
        guard let bucket else { throw TestFailure("datastore main is not on S3") }
        let path = datastorePath
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(
                    with: Result {
                        let store = try Datastore.open(at: path).backed(by: S3ObjectStore(client: bucket))
                        guard let id = RecoveryPointID(point) else { throw TestFailure("point id \(point) does not parse") }
                        var hash = SHA256()
                        try store.readDisk(RecoveryPointRef(vm: vm, point: id), disk: target) { _, bytes in
                            hash.update(data: bytes)
                        }
                        return hash.finalize().map { String(format: "%02x", $0) }.joined()
                    })
            }.start()
        }
    }

    /// The server's disaster: bulwarkd killed and its data directory (catalog, CA, tokens) deleted, then a new
    /// bulwarkd on an empty one, and the agent enrolled with it anew. The datastores stay.
    func replaceServer() async throws {
        server.kill()
        try FileManager.default.removeItem(atPath: directory.file("server"))
        server = try Self.startServer(directory, scheduler: scheduler)
        let old = client
        client = try BulwarkAPIClient(
            configuration: try ClientConfiguration.resolve(
                server: nil, token: nil, ca: nil, environment: ["BULWARK_DATA_DIR": directory.file("server")]))
        await old.shutdown()
        killAgent()
        let token: EnrollmentTokenView = try await client.post("/v1/agents/tokens", EnrollmentTokenRequest(host: host))
        let url = try String(contentsOfFile: directory.file("server/address"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try ChildProcess.run(
            productPath("bulwark-agent"),
            ["enroll", "--server", url, "--token", token.token, "--name", host, "--state-dir", agentState, "--force"])
        try startAgent()
    }

    /// SIGKILL for bulwarkd, then a new one on the same data directory and port (the agent knows the address).
    func killAndRestartServer() throws {
        let address = try String(contentsOfFile: directory.file("server/address"), encoding: .utf8)
        guard let port = URL(string: address.trimmingCharacters(in: .whitespacesAndNewlines))?.port else {
            throw TestFailure("no port in \(address)")
        }
        server.kill()
        server = try Self.startServer(directory, listen: "127.0.0.1:\(port)", scheduler: scheduler)
    }

    func startAgent() throws {
        agent = try ChildProcess(
            productPath("bulwark-agent"),
            ["run", "--state-dir", agentState, "--libvirt", systemURI, "--log-level", "debug"], logFile: agentLog)
    }

    /// SIGKILL: the agent dies mid-whatever, as a host crash or OOM kill would leave it.
    func killAgent() {
        agent?.kill()
        agent = nil
    }

    /// Stops everything and removes the files (datastore included).
    func stop() {
        agent?.signal(SIGTERM)
        agent?.kill()
        server.kill()
        Task { [client, bucket] in
            await client.shutdown()
            await bucket?.shutdown()
        }
        _ = try? ChildProcess.run("umount", [datastorePath])
        directory.cleanUp()
    }

    /// Waits until the agent's inventory shows `name` and adds it to group `gold`.
    func protect(_ name: String) async throws -> UUID {
        var found: VMView?
        try await waitUntil("the agent to report VM \(name)", seconds: 60) {
            let vms: [VMView] = try await client.get("/v1/vms")
            found = vms.first { $0.name == name && $0.host == host }
            return found != nil
        }
        let _: GroupView = try await client.post("/v1/groups/gold/members", GroupMembersRequest(vms: ["\(host)/\(name)"]))
        return found!.uuid
    }

    /// The initial replica adding `name` to its group queued.
    func initialReplica(_ name: String) async throws -> JobView {
        let jobs: [JobView] = try await client.get("/v1/jobs")
        guard let job = jobs.first(where: { $0.subject == "\(host)/\(name)" && $0.kind == "initial-replica" }) else {
            throw TestFailure("no initial replica of \(name) was queued: \(jobs.map { "\($0.kind) \($0.subject)" })")
        }
        return job
    }

    /// Asks for a sync and waits for the job to end; returns the finished job.
    func backup(_ name: String) async throws -> JobView {
        let job: JobView = try await client.post("/v1/backup", BackupRequest(vm: "\(host)/\(name)"))
        return try await wait(job.id)
    }

    func check(_ name: String) async throws -> JobView {
        let jobs: [JobView] = try await client.post("/v1/check", CheckRequest(vm: "\(host)/\(name)"))
        return try await wait(jobs[0].id)
    }

    func wait(_ id: String, seconds: Double = 600) async throws -> JobView {
        var job: JobView?
        try await waitUntil("job \(id) to end", seconds: seconds) {
            job = try await client.get("/v1/jobs/\(id)")
            return job!.state.isFinished
        }
        return job!
    }

    func job(_ id: String) async throws -> JobView { try await client.get("/v1/jobs/\(id)") }

    func points(_ name: String) async throws -> [RecoveryPointView] {
        try await client.get("/v1/points?vm=\(host)/\(name)")
    }

    /// SHA-256 of disk `target` of `point` as the datastore restores it.
    func restoredDigest(vm: UUID, point: String, disk target: String) throws -> String {
        let store = try Datastore.open(at: datastorePath)
        guard let id = RecoveryPointID(point) else { throw TestFailure("point id \(point) does not parse") }
        var hash = SHA256()
        try store.readDisk(RecoveryPointRef(vm: vm, point: id), disk: target) { _, bytes in hash.update(data: bytes) }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// A description of what went on, for a failing test.
    func diagnostics() -> String {
        let agentText = (try? String(contentsOfFile: agentLog, encoding: .utf8)) ?? ""
        let serverText = (try? String(contentsOfFile: serverLog, encoding: .utf8)) ?? ""
        return "--- agent log (tail) ---\n\(agentText.suffix(6000))\n--- bulwarkd log (tail) ---\n\(serverText.suffix(4000))"
    }
}

/// SHA-256 of a disk image's guest-visible bytes: `qemu-img convert` to raw, then hashed. Only for a disk no running
/// QEMU writes to.
func imageDigest(_ path: String, scratch: TemporaryDirectory) throws -> String {
    let raw = scratch.file("digest-\(UUID().uuidString.prefix(6)).raw")
    defer { try? FileManager.default.removeItem(atPath: raw) }
    try ChildProcess.run("qemu-img", ["convert", "-U", "-O", "raw", path, raw])
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: raw))
    defer { try? handle.close() }
    var hash = SHA256()
    while let data = try handle.read(upToCount: 4 << 20), !data.isEmpty { hash.update(data: data) }
    return hash.finalize().map { String(format: "%02x", $0) }.joined()
}

/// Boots a guest for `testbed`, runs `body`, and records any failure with the daemons' logs attached.
func withGuest(
    on testbed: Testbed, kernelArguments: [String] = [], dataDisk: String? = nil, _ body: (TestGuest) async throws -> Void
) async throws {
    try await withGuest(kernelArguments: kernelArguments, dataDisk: dataDisk) { guest in
        do {
            try await body(guest)
        } catch {
            Issue.record("\(error)\n\(testbed.diagnostics())")
        }
    }
}

/// Writes `mebibytes` MiB of random data at `offset` of the guest's vda through QEMU's block layer: distinct,
/// incompressible chunks.
func writeRandom(_ guest: TestGuest, at offset: String, mebibytes: Int) async throws {
    let random = guest.directory.file("random-\(UUID().uuidString.prefix(6)).bin")
    defer { try? FileManager.default.removeItem(atPath: random) }
    try ChildProcess.run("dd", ["if=/dev/urandom", "of=\(random)", "bs=1M", "count=\(mebibytes)", "status=none"])
    let name = guest.name
    try await guest.hypervisor.run { connection in
        let reply = try connection.domain(named: name).monitorCommand(
            "qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend \"write -s \(random) \(offset) \(mebibytes)M\"",
            humanMonitor: true)
        guard reply.isEmpty || reply.contains("wrote") else { throw TestFailure("qemu-io: \(reply)") }
    }
}
