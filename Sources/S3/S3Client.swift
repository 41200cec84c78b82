import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL

/// Talks to one bucket of an S3-compatible object store (Ceph RGW, MinIO, AWS) over one `HTTPClient`.
///
/// Every request is signed with AWS Signature V4, sends its payload's SHA-256 (Ceph refuses the streaming trailer
/// checksums of newer SDKs), ends at ``S3Configuration/requestTimeout`` at the latest, and is retried with back-off
/// as ``S3RetryPolicy`` says. Keys are relative to ``S3Configuration/keyPrefix``. Call ``shutdown()`` when done.
public final class S3Client: Sendable {
    public let configuration: S3Configuration
    let http: HTTPClient
    let signer: S3Signer

    /// Checks the configuration and reads the CA file; connects only when the first request is made.
    public init(configuration: S3Configuration) throws(S3Error) {
        try configuration.validate()
        self.configuration = configuration
        signer = S3Signer(credentials: configuration.credentials, region: configuration.region)
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile = configuration.caFile {
            let certificates: [NIOSSLCertificate]
            do {
                certificates = try NIOSSLCertificate.fromPEMFile(caFile)
            } catch {
                throw S3Error(
                    .invalidConfiguration,
                    "cannot read the CA certificate file \(caFile) as PEM; give the PEM file of the CA that signed the "
                        + "gateway's certificate",
                    cause: error)
            }
            guard !certificates.isEmpty else {
                throw S3Error(.invalidConfiguration, "the CA certificate file \(caFile) holds no PEM certificate")
            }
            // Exactly this CA: a private gateway's certificate should not be accepted because some public CA signed it.
            tls.trustRoots = .certificates(certificates)
        }
        var http = HTTPClient.Configuration(tlsConfiguration: tls)
        http.timeout = .init(
            connect: TimeAmount(configuration.connectTimeout), read: TimeAmount(configuration.requestTimeout))
        // A redirect would have to be signed anew; S3 only redirects to another region, which is a configuration error.
        http.redirectConfiguration = .disallow
        // Failed connections fail the request at once: this client retries them itself, with its own back-off and
        // a clear error at the end, instead of the pool retrying silently until the deadline.
        http.connectionPool.retryConnectionEstablishment = false
        http.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 16
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
    }

    /// Closes the connections. The client cannot be used afterwards.
    public func shutdown() async {
        try? await http.shutdown()
    }

    /// `https://host:port/bucket` and the bucket: for messages.
    var bucketDescription: String { "bucket \"\(configuration.bucket)\" at \(configuration.origin)" }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
