import AsyncHTTPClient
import BulwarkAPI
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL

/// Calls `bulwarkd`'s HTTPS API with the admin token, trusting the server's CA.
public final class BulwarkAPIClient: Sendable {
    public let configuration: ClientConfiguration
    private let client: HTTPClient

    public init(configuration: ClientConfiguration) throws(ClientError) {
        self.configuration = configuration
        var tls = TLSConfiguration.makeClientConfiguration()
        if let pem = configuration.caPEM {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
            } catch {
                throw ClientError(.configuration, "the CA certificate is not valid PEM: \(error)")
            }
        }
        var httpConfiguration = HTTPClient.Configuration(tlsConfiguration: tls)
        httpConfiguration.timeout = .init(connect: .seconds(10), read: .seconds(120))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
    }

    /// Ends the client's connections; call once when done.
    public func shutdown() async {
        try? await client.shutdown()
    }

    public func get<Response: Decodable>(_ path: String, as type: Response.Type = Response.self) async throws(ClientError)
        -> Response
    {
        try await send(.GET, path, body: Optional<Empty>.none)
    }

    public func post<Body: Encodable, Response: Decodable>(
        _ path: String, _ body: Body, as type: Response.Type = Response.self
    ) async throws(ClientError) -> Response {
        try await send(.POST, path, body: body)
    }

    public func patch<Body: Encodable, Response: Decodable>(
        _ path: String, _ body: Body, as type: Response.Type = Response.self
    ) async throws(ClientError) -> Response {
        try await send(.PATCH, path, body: body)
    }

    public func delete<Response: Decodable>(_ path: String, as type: Response.Type = Response.self)
        async throws(ClientError) -> Response
    {
        try await send(.DELETE, path, body: Optional<Empty>.none)
    }

    private struct Empty: Codable {}

    private func send<Body: Encodable, Response: Decodable>(_ method: HTTPMethod, _ path: String, body: Body?)
        async throws(ClientError) -> Response
    {
        let url = configuration.serverURL.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + path
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(configuration.token)")
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            do {
                request.body = .bytes(ByteBuffer(data: try encoder.encode(body)))
            } catch {
                throw ClientError(.configuration, "cannot encode the request: \(error)")
            }
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(request, timeout: .seconds(120))
            bytes = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw ClientError(
                .unreachable,
                "cannot reach bulwarkd at \(configuration.serverURL.absoluteString): \(error); is it running, and is the address right?")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard (200..<300).contains(response.status.code) else {
            let body = try? decoder.decode(APIErrorBody.self, from: bytes)
            let message = body?.error.message ?? "the server answered \(response.status.code) \(response.status.reasonPhrase)"
            switch (response.status.code, body?.error.code) {
            case (_, "not-available"): throw ClientError(.notAvailable, message)
            case (401, _), (403, _): throw ClientError(.unauthorized, message)
            case (404, _): throw ClientError(.notFound, message)
            case (501, _): throw ClientError(.notAvailable, message)
            case (400..<500, _): throw ClientError(.rejected, message)
            default: throw ClientError(.server, message)
            }
        }
        do {
            return try decoder.decode(Response.self, from: bytes)
        } catch {
            throw ClientError(.server, "the server's answer to \(method) \(path) could not be read: \(error)")
        }
    }
}
