import BulwarkCatalog
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOSSL
import X509

/// Lets a request through only when its TLS connection carries the client certificate of an enrolled agent, and
/// tells the routes which host that is (``BulwarkRequestContext/agentHost``).
///
/// The handshake has already checked that the certificate is signed by the server's CA; the catalog then maps its
/// fingerprint to a host, so a certificate replaced by enrolling again stops working at once. The admin token
/// means nothing here: agent routes take certificates only, as admin routes take tokens only.
struct AgentAuthMiddleware: RouterMiddleware {
    typealias Context = BulwarkRequestContext
    let catalog: Catalog

    /// How stale an agent's last-seen time may get before a call refreshes it: one catalog write per agent and
    /// interval, not one per uploaded chunk.
    static let touchInterval: TimeInterval = 30

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let certificate = await Self.peerCertificate(of: context.channel) else {
            throw APIError.agentUnauthorized(
                "agent calls need the client certificate the host got at enrollment, and this connection presented none")
        }
        let fingerprint: String
        do {
            fingerprint = try CertificateAuthority.fingerprint(of: try Certificate(derEncoded: try certificate.toDERBytes()))
        } catch {
            throw APIError.agentUnauthorized("the client certificate cannot be read (\(error))")
        }
        guard let agent = try await catalog.agent(certificateFingerprint: fingerprint) else {
            throw APIError.agentUnauthorized(
                "no enrolled agent has this client certificate (SHA-256 \(fingerprint)); it was replaced or its agent removed")
        }
        let now = Date()
        if agent.lastSeenAt.map({ now.timeIntervalSince($0) >= Self.touchInterval }) ?? true {
            do {
                try await catalog.touchAgent(host: agent.host, at: now)
            } catch {
                // Last-seen is a convenience for admins; failing the agent's call over it would stop its work.
                context.logger.warning("cannot record that the agent on \(agent.host) called in: \(error)")
            }
        }
        var context = context
        context.agentHost = agent.host
        context.logger[metadataKey: "agent"] = .string(agent.host)
        return try await next(request, context)
    }

    /// The certificate the peer presented in the TLS handshake; nil without one (or without TLS).
    static func peerCertificate(of channel: any Channel) async -> NIOSSLCertificate? {
        try? await channel.nioSSL_peerCertificate().get()
    }
}

extension APIError {
    /// 401 for an agent route: what was wrong with the caller's certificate, and how to get a good one.
    static func agentUnauthorized(_ reason: String) -> APIError {
        APIError(
            .unauthorized, code: "unauthorized",
            message: "\(reason); enroll the host with `bulwark-agent enroll` (a token from `bulwark agent token`)")
    }
}
