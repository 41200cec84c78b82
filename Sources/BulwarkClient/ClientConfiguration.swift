import BulwarkAPI
public import Foundation

/// Where the admin CLI finds its server, token and CA: flags first, then `BULWARK_SERVER`, `BULWARK_TOKEN` and
/// `BULWARK_CA`, then a local server's data directory (`BULWARK_DATA_DIR`, default `/var/lib/bulwark`).
public struct ClientConfiguration: Sendable, Hashable {
    public var serverURL: URL
    public var token: String
    /// PEM of the CA to trust; nil trusts the system's roots.
    public var caPEM: String?

    public init(serverURL: URL, token: String, caPEM: String?) {
        self.serverURL = serverURL
        self.token = token
        self.caPEM = caPEM
    }

    public static func resolve(
        server: String?, token: String?, ca: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ClientError) -> ClientConfiguration {
        let dataDirectory = environment["BULWARK_DATA_DIR"] ?? DataDirectoryLayout.defaultPath
        func local(_ file: String) -> String? {
            (try? String(contentsOfFile: "\(dataDirectory)/\(file)", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let serverText = server ?? environment["BULWARK_SERVER"] ?? local(DataDirectoryLayout.addressFile) else {
            throw ClientError(
                .configuration,
                "no server given and no local server found in \(dataDirectory): pass --server URL, set BULWARK_SERVER, "
                    + "or set BULWARK_DATA_DIR to the data directory of a running bulwarkd")
        }
        guard let url = URL(string: serverText), url.scheme == "https", url.host != nil else {
            throw ClientError(.configuration, "server '\(serverText)' is not an https:// URL such as https://backup1:9443")
        }
        guard let tokenText = token ?? environment["BULWARK_TOKEN"] ?? local(DataDirectoryLayout.adminTokenFile) else {
            throw ClientError(
                .configuration,
                "no admin token: pass --token, set BULWARK_TOKEN, or run as a user who can read \(dataDirectory)/admin.token")
        }
        var caPEM: String?
        if let caPath = ca ?? environment["BULWARK_CA"] {
            guard let pem = try? String(contentsOfFile: caPath, encoding: .utf8) else {
                throw ClientError(.configuration, "cannot read the CA certificate \(caPath) given by --ca or BULWARK_CA")
            }
            caPEM = pem
        } else {
            caPEM = try? String(contentsOfFile: "\(dataDirectory)/\(DataDirectoryLayout.caCertificateFile)", encoding: .utf8)
        }
        return ClientConfiguration(serverURL: url, token: tokenText, caPEM: caPEM)
    }
}
