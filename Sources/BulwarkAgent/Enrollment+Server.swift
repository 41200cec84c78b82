import AsyncHTTPClient
import BulwarkAPI
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL
import X509

/// The two calls of enrollment: `GET /v1/ca` before anything is trusted, and `POST /v1/enroll` over TLS that
/// trusts only the CA the token names.
extension Enrollment {
    /// Fetches the server's CA over unverified TLS and accepts it only if its fingerprint is the token's.
    func fetchTrustedCA() async throws(AgentError) -> TrustedCA {
        var tls = TLSConfiguration.makeClientConfiguration()
        // Nothing is known about the server yet; what it sends is checked against the token below, and nothing
        // secret goes out on this connection.
        tls.certificateVerification = .none
        let (status, body) = try await send(.GET, EnrollmentPath.ca, body: nil, tls: tls)
        guard status == 200 else {
            let hint = status == 404 ? ": it is not bulwarkd, or a bulwarkd older than this agent; check the address" : ""
            throw AgentError(
                status == 404 ? .rejected : .unreachable,
                "the server at \(base) answered \(status) to GET \(EnrollmentPath.ca)\(hint)\(Self.serverMessage(body))")
        }
        let ca: TrustedCA
        do {
            ca = try TrustedCA(pem: String(decoding: body, as: UTF8.self))
        } catch {
            throw AgentError(
                .untrustedServer,
                "the server at \(base) did not answer GET \(EnrollmentPath.ca) with a PEM certificate: check the "
                    + "server address",
                cause: error)
        }
        guard token.matches(caFingerprint: ca.fingerprint) else {
            throw AgentError(
                .untrustedServer,
                "the server at \(base) presented CA \(ca.fingerprint) but the token expects \(token.caFingerprint): "
                    + "check the server address and the token")
        }
        return ca
    }

    /// Sends the token and the CSR; only the pinned CA's certificates are accepted for the server.
    func requestCertificate(csrPEM: String, trusting ca: TrustedCA) async throws(AgentError) -> EnrollmentResponse {
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.pem.utf8)))
        } catch {
            throw AgentError(.untrustedServer, "the server's CA certificate cannot be used for TLS", cause: error)
        }
        let body: [UInt8]
        do {
            body = Array(try JSONEncoder().encode(EnrollmentRequest(token: token.text, host: host, csr: csrPEM)))
        } catch {
            throw AgentError(.local, "cannot encode the enrollment request", cause: error)
        }
        let (status, answer) = try await send(.POST, EnrollmentPath.enroll, body: body, tls: tls)
        let message = Self.serverMessage(answer)
        switch status {
        case 200..<300:
            do {
                return try JSONDecoder().decode(EnrollmentResponse.self, from: Data(answer))
            } catch {
                throw AgentError(.rejected, "the server's answer to the enrollment could not be read", cause: error)
            }
        case 401:
            throw AgentError(
                .unauthorized,
                "the server at \(base) does not know this enrollment token: it was made by another server, or "
                    + "mistyped; make a new one with `bulwark agent token` on the server")
        case 403:
            // Used or expired: the server's own message says which, and when.
            throw AgentError(.unauthorized, "the server at \(base) refused the enrollment token\(message)")
        case 404:
            throw AgentError(
                .rejected,
                "the server at \(base) does not offer POST \(EnrollmentPath.enroll): check the address\(message)")
        case 400..<500:
            throw AgentError(.rejected, "the server at \(base) refused the enrollment of '\(host)'\(message)")
        default:
            throw AgentError(.unreachable, "the server at \(base) failed (\(status))\(message): try again later")
        }
    }

    /// The server URL without a trailing slash, as paths are appended to it.
    var base: String { serverURL.absoluteString }

    /// One request on a client of its own (each step trusts something different), shut down before returning.
    func send(_ method: HTTPMethod, _ path: String, body: [UInt8]?, tls: TLSConfiguration) async throws(AgentError)
        -> (status: Int, body: [UInt8])
    {
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(60))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let result: Result<(Int, [UInt8]), any Error>
        do {
            let response = try await client.execute(request, timeout: .seconds(60))
            var buffer = try await response.body.collect(upTo: 1 << 20)
            result = .success((Int(response.status.code), buffer.readBytes(length: buffer.readableBytes) ?? []))
        } catch {
            result = .failure(error)
        }
        try? await client.shutdown()
        switch result {
        case .success(let answer): return answer
        case .failure(let error): throw transportError(error, method: method, path: path)
        }
    }

    /// Says why a call did not get an answer, telling a certificate that does not fit from a server that is away.
    func transportError(_ error: any Error, method: HTTPMethod, path: String) -> AgentError {
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            return AgentError(
                .untrustedServer,
                "the server at \(base) has a certificate from the expected CA, but it does not name "
                    + "'\(serverURL.host ?? "")': use an address the certificate names (the address bulwarkd listens "
                    + "on, localhost, or the server's host name)",
                cause: error)
        }
        if error is NIOSSLError {
            return AgentError(
                .untrustedServer,
                "the TLS handshake with \(base) failed for \(method) \(path): its certificate is not signed by the CA "
                    + "the token names; check the server address",
                cause: error)
        }
        return AgentError(
            .unreachable, "cannot reach bulwarkd at \(base) for \(method) \(path): check the address and that it runs",
            cause: error)
    }

    /// `: MESSAGE` from an API error body, or nothing.
    static func serverMessage(_ body: [UInt8]) -> String {
        guard let error = try? JSONDecoder().decode(APIErrorBody.self, from: Data(body)) else { return "" }
        return ": \(error.error.message)"
    }
}

/// The enrollment paths, relative to the server URL.
enum EnrollmentPath {
    static let ca = "/v1/ca"
    static let enroll = "/v1/enroll"
}
