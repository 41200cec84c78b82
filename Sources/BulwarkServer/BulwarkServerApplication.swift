public import BulwarkAPI
import BulwarkCore
import Foundation
public import Hummingbird
import HummingbirdTLS
public import Logging
import NIOCore
import NIOSSL
public import ServiceLifecycle

/// Builds the running parts of `bulwarkd` from its configuration.
public enum BulwarkServerApplication {
    /// Prepares the data directory (CA, certificate, admin token) and returns the HTTPS API as a `Service`.
    ///
    /// `onRunning` receives the URL clients use once the server listens; it is also written to the data directory.
    public static func make(
        configuration: ServerConfiguration, logger: Logger,
        onRunning: @escaping @Sendable (String) async -> Void = { _ in }
    ) throws -> some Service {
        let directory = ServerDataDirectory(path: configuration.dataDirectory)
        try directory.prepare()
        let ca = try directory.loadOrCreateCA()
        let adminToken = try directory.loadOrCreateAdminToken()
        let certificate = try directory.issueServerCertificate(ca: ca, host: configuration.host)
        let tls = try tlsConfiguration(certificatePEM: certificate.certificatePEM, keyPEM: certificate.keyPEM)
        let state = ServerState(startedAt: Date(), serverID: try directory.loadOrCreateServerID())

        let router = Router(context: BulwarkRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        let api = router.group("v1").add(middleware: AdminAuthMiddleware(verifier: AdminTokenVerifier(tokens: [adminToken])))
        api.get("status") { _, _ in
            ServerStatus(version: BulwarkVersion.current, serverID: state.serverID, startedAt: state.startedAt, datastores: 0)
        }

        let host = configuration.host
        return Application(
            router: router,
            server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "bulwarkd"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                let shownHost = host == "0.0.0.0" ? "127.0.0.1" : (host.contains(":") ? "[\(host)]" : host)
                let url = "https://\(shownHost):\(port)"
                do {
                    try directory.writeAddress(url)
                } catch {
                    logger.error("cannot publish the address in the data directory: \(error)")
                }
                logger.info("bulwarkd listening", metadata: ["url": "\(url)", "data-dir": "\(directory.path)"])
                await onRunning(url)
            },
            logger: logger)
    }

    static func tlsConfiguration(certificatePEM: String, keyPEM: String) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }
}

/// What the API handlers share.
struct ServerState: Sendable {
    let startedAt: Date
    let serverID: String
}

extension ServerStatus: ResponseEncodable {}

extension ServerDataDirectory {
    /// The server's identity, made on first start.
    func loadOrCreateServerID() throws -> String {
        let path = file("server-id")
        if let id = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
            !id.isEmpty
        {
            return id
        }
        let id = UUID().uuidString.lowercased()
        try Self.writeAtomically(id + "\n", to: path, mode: 0o644)
        return id
    }
}
