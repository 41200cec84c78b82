import AsyncHTTPClient
import BulwarkAPI
import Foundation
public import NIOCore
import NIOFoundationCompat
public import NIOHTTP1
import NIOSSL
import Synchronization

/// The agent's calls to `bulwarkd`: mutual TLS with the enrolled certificate, trusting only the server's CA.
///
/// Errors map to ``AgentError`` codes so callers can tell a server that is away (`unreachable`, worth retrying)
/// from one that refuses (`rejected`, `notFound`, `unauthorized`).
public final class ServerConnection: Sendable {
    /// The identity the calls present and the client that presents it: both replaced together when the agent
    /// renews its certificate (``replace(identity:)``).
    private let state: Mutex<(identity: AgentIdentity, client: HTTPClient)>
    private let base: String

    public var identity: AgentIdentity { state.withLock { $0.identity } }
    private var client: HTTPClient { state.withLock { $0.client } }

    public init(identity: AgentIdentity) throws(AgentError) {
        state = Mutex((identity, try Self.client(for: identity)))
        base = identity.serverURL.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
    }

    /// An HTTP client presenting `identity`'s certificate and trusting only its CA.
    private static func client(for identity: AgentIdentity) throws(AgentError) -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(identity.caPEM.utf8)))
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(identity.certificatePEM.utf8))
                .map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem))
        } catch {
            throw AgentError(
                .notEnrolled, "the agent's certificate, key or CA is not valid PEM: enroll this host again", cause: error)
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(300))
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 8)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Makes every later call present `identity` (a renewed certificate). Calls under way on the old client keep it
    /// until they end; it is shut down once the longest of them (the read timeout) must have.
    public func replace(identity: AgentIdentity) throws(AgentError) {
        let fresh = try Self.client(for: identity)
        let old = state.withLock { state in
            defer { state = (identity, fresh) }
            return state.client
        }
        Task {
            try? await Task.sleep(for: .seconds(330))
            try? await old.shutdown()
        }
    }

    /// Ends the connections; call once when done.
    public func shutdown() async {
        try? await client.shutdown()
    }

    /// Sends JSON (or nothing) and decodes the JSON answer; `nil` for 204 No Content.
    public func json<Response: Decodable>(
        _ method: HTTPMethod, _ path: String, body: (some Encodable)? = Optional<Never?>.none,
        as type: Response.Type = Response.self, timeout: Duration = .seconds(120)
    ) async throws(AgentError) -> Response? {
        var payload: [UInt8]?
        if let body {
            do {
                payload = Array(try Self.encoder.encode(body))
            } catch {
                throw AgentError(.invalid, "cannot encode the request to \(path)", cause: error)
            }
        }
        let (status, bytes) = try await send(
            method, path, body: payload, contentType: "application/json", timeout: timeout)
        if status == 204 { return nil }
        do {
            return try Self.decoder.decode(Response.self, from: Data(bytes))
        } catch {
            throw AgentError(.rejected, "the server's answer to \(method) \(path) could not be read", cause: error)
        }
    }

    /// Sends raw bytes (or nothing) and returns the status and the raw answer.
    public func send(
        _ method: HTTPMethod, _ path: String, body: [UInt8]?, contentType: String = "application/octet-stream",
        timeout: Duration = .seconds(120)
    ) async throws(AgentError) -> (status: Int, body: [UInt8]) {
        try await send(method, path, buffer: body.map { ByteBuffer(bytes: $0) }, contentType: contentType, timeout: timeout)
    }

    /// Sends the bytes of a buffer (or nothing) and returns the status and the raw answer.
    public func send(
        _ method: HTTPMethod, _ path: String, buffer body: ByteBuffer?, contentType: String = "application/octet-stream",
        timeout: Duration = .seconds(120)
    ) async throws(AgentError) -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(body)
        }
        let response: HTTPClientResponse
        let bytes: [UInt8]
        do {
            response = try await client.execute(request, timeout: .nanoseconds(Int64(timeout.nanoseconds)))
            bytes = try await Self.collect(response, limit: 256 << 20)
        } catch {
            throw AgentError(
                .unreachable, "cannot reach bulwarkd at \(base) for \(method) \(path): \(error)", cause: error)
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let body = try? Self.decoder.decode(APIErrorBody.self, from: Data(bytes))
            let message = body?.error.message ?? "the server answered \(status) \(response.status.reasonPhrase)"
            let code: AgentError.Code =
                switch status {
                // An admin cancelled the task while this call was on its way (a commit, a restore's completion).
                case 409 where body?.error.code == "cancelled": .cancelled
                // A chunk the sync counted on went from the datastore before its commit: a new try sends it again.
                case 409 where body?.error.code == AgentCommitResult.chunkMissingCode: .chunkMissing
                case 401, 403: .unauthorized
                case 404: .notFound
                // The datastore is full: retrying would not help, the admin must act.
                case 400..<500, 507: .rejected
                default: .unreachable
                }
            throw AgentError(code, "\(method) \(path): \(message)")
        }
        return (status, bytes)
    }

    /// The answer's body, at most `limit` bytes, copied once: into an array sized from `Content-Length`.
    ///
    /// Chunks of a restore are megabytes; collecting into a growing buffer and copying that out cost more CPU than
    /// checking their CRC-32.
    private static func collect(_ response: HTTPClientResponse, limit: Int) async throws -> [UInt8] {
        let declared = response.headers.first(name: "Content-Length").flatMap { Int($0) } ?? 0
        guard declared <= limit else { throw NIOTooManyBytesError(maxBytes: limit) }
        var bytes = [UInt8]()
        bytes.reserveCapacity(declared)
        for try await part in response.body {
            guard bytes.count + part.readableBytes <= limit else { throw NIOTooManyBytesError(maxBytes: limit) }
            bytes.append(contentsOf: part.readableBytesView)
        }
        return bytes
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

extension Duration {
    var nanoseconds: Int64 {
        let parts = components
        return parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000
    }
}
