import AsyncHTTPClient
import BulwarkAPI
import BulwarkClient
import BulwarkServer
import BulwarkStore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import ServiceLifecycle
import TestSupport
import Testing

/// An agent as the server sees it: mutual TLS with the certificate it enrolled for, speaking the agent protocol
/// with plain HTTP calls (no libvirt), so tests can drive every step and every wrong step.
final class FakeAgent: Sendable {
    let host: String
    private let client: HTTPClient
    private let base: String
    private let caPath: String
    private let certificatePEM: String?
    private let keyPEM: String?

    /// What the server answered: status and raw body.
    struct Answer {
        var status: Int
        var body: [UInt8]

        /// The error message of a JSON error answer.
        var message: String {
            (try? JSONDecoder().decode(APIErrorBody.self, from: Data(body)))?.error.message
                ?? String(decoding: body, as: UTF8.self)
        }

        /// The machine-readable code of a JSON error answer.
        var code: String? { (try? JSONDecoder().decode(APIErrorBody.self, from: Data(body)))?.error.code }

        func decode<Value: Decodable>(_ type: Value.Type = Value.self) throws -> Value {
            guard (200..<300).contains(status) else { throw TestFailure("expected success, got \(status): \(message)") }
            return try FakeAgent.decoder.decode(Value.self, from: Data(body))
        }
    }

    /// Enrolls `host` through the admin API and returns its agent.
    static func enroll(_ host: String, admin: BulwarkAPIClient, directory: ServerDataDirectory) async throws -> FakeAgent {
        let token: EnrollmentTokenView = try await admin.post("/v1/agents/tokens", EnrollmentTokenRequest(host: host))
        let request = try EnrollmentTests.csr(host: host)
        let enrolled: EnrollmentResponse = try await admin.post(
            "/v1/enroll", EnrollmentRequest(token: token.token, host: host, csr: request.pem))
        return try FakeAgent(
            host: host, server: admin.configuration.serverURL, caPath: directory.caCertificatePath,
            certificatePEM: enrolled.certificate, keyPEM: try request.key.serializeAsPEM().pemString)
    }

    /// A caller with no client certificate at all (only trusting the CA).
    static func anonymous(admin: BulwarkAPIClient, directory: ServerDataDirectory) throws -> FakeAgent {
        try FakeAgent(
            host: "(none)", server: admin.configuration.serverURL, caPath: directory.caCertificatePath,
            certificatePEM: nil, keyPEM: nil)
    }

    init(host: String, server: URL, caPath: String, certificatePEM: String?, keyPEM: String?) throws {
        self.host = host
        self.caPath = caPath
        self.certificatePEM = certificatePEM
        self.keyPEM = keyPEM
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(caPath)
        if let certificatePEM, let keyPEM {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem))
        }
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(tlsConfiguration: tls))
        base = server.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
    }

    /// The same agent (same certificate) talking to a server at another address, e.g. after a restart.
    func reconnected(to server: URL) throws -> FakeAgent {
        try FakeAgent(host: host, server: server, caPath: caPath, certificatePEM: certificatePEM, keyPEM: keyPEM)
    }

    func shutdown() async {
        try? await client.shutdown()
    }

    /// Sends raw bytes (or nothing), with extra headers, and returns the answer whatever its status.
    func send(
        _ method: HTTPMethod, _ path: String, bytes: [UInt8]? = nil, contentType: String = "application/octet-stream",
        headers: [(String, String)] = []
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let bytes {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: bytes))
        }
        let response = try await client.execute(request, timeout: .seconds(90))
        var body = try await response.body.collect(upTo: 256 << 20)
        return Answer(status: Int(response.status.code), body: body.readBytes(length: body.readableBytes) ?? [])
    }

    /// Sends JSON and returns the answer whatever its status.
    func send(_ method: HTTPMethod, _ path: String, json: some Encodable, headers: [(String, String)] = []) async throws
        -> Answer
    {
        try await send(
            method, path, bytes: Array(try Self.encoder.encode(json)), contentType: "application/json", headers: headers)
    }

    /// Polls for a task without waiting; nil on 204.
    func nextTask(running: [String] = [], wait: Int = 0) async throws -> AgentTask? {
        let answer = try await send(.GET, "/v1/agent/tasks/next?wait=\(wait)&running=\(running.joined(separator: ","))")
        if answer.status == 204 { return nil }
        return try answer.decode(AgentTask.self)
    }

    func reportInventory(_ vms: [AgentInventoryReport.VM]) async throws -> AgentInventoryResult {
        try await send(.POST, "/v1/agent/inventory", json: AgentInventoryReport(vms: vms)).decode()
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}

/// A disk image cut into chunks and encoded as an agent does it, with its index.
struct SyntheticDisk {
    let target: String
    let image: [UInt8]
    let chunks: [EncodedChunk]
    let index: FixedIndex

    init(target: String, image: [UInt8], chunkSize: Int) throws {
        self.target = target
        self.image = image
        var index = try FixedIndex(chunkSize: chunkSize, logicalSize: UInt64(image.count))
        var chunks: [EncodedChunk] = []
        for number in 0..<index.chunkCount {
            let range = index.range(ofChunk: number)
            let chunk = EncodedChunk.encode(Array(image[Int(range.lowerBound)..<Int(range.upperBound)]), chunkSize: chunkSize)
            index[number] = chunk.digest
            chunks.append(chunk)
        }
        self.chunks = chunks
        self.index = index
    }

    /// The chunks worth uploading: not zeros, each once.
    var dataChunks: [EncodedChunk] {
        var seen = Set<ChunkDigest>()
        return chunks.filter { !$0.isZero && seen.insert($0.digest).inserted }
    }

    /// Deterministic bytes: one pattern per chunk-sized block, an all-zero block at `zeroBlock`.
    static func image(blocks: Int, chunkSize: Int, tail: Int = 0, seed: UInt8 = 1, zeroBlock: Int? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(blocks * chunkSize + tail)
        for block in 0..<blocks {
            if block == zeroBlock {
                bytes += [UInt8](repeating: 0, count: chunkSize)
            } else {
                var generator = SeededGenerator(seed: UInt64(seed) << 32 | UInt64(block))
                bytes += (0..<chunkSize).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            }
        }
        bytes += (0..<tail).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
        return bytes
    }
}

/// A small deterministic generator (SplitMix64), so synthetic disks are the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs a real `bulwarkd` on an existing data directory (so a test can stop it and start it again on the same
/// catalog), with an admin client, until `body` returns.
func withServer(
    dataDirectory path: String, _ body: (BulwarkAPIClient, ServerDataDirectory) async throws -> Void
) async throws {
    var logger = Logger(label: "bulwarkd-test")
    logger.logLevel = .warning
    let (addresses, published) = AsyncStream.makeStream(of: String.self)
    let api = try await BulwarkServerApplication.make(
        configuration: ServerConfiguration(dataDirectory: path, host: "127.0.0.1", port: 0), logger: logger,
        onRunning: { published.yield($0) })
    let group = ServiceGroup(configuration: .init(services: api.map { .init(service: $0) }, logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var iterator = addresses.makeAsyncIterator()
        guard let url = await iterator.next() else { throw TestFailure("bulwarkd did not start") }
        let client = try BulwarkAPIClient(
            configuration: try ClientConfiguration.resolve(
                server: url, token: nil, ca: nil, environment: ["BULWARK_DATA_DIR": path]))
        do {
            try await body(client, ServerDataDirectory(path: path))
        } catch {
            await client.shutdown()
            await group.triggerGracefulShutdown()
            throw error
        }
        await client.shutdown()
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}
