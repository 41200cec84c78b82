import BulwarkAPI
import Crypto
import Foundation
import X509

/// The server's data directory: catalog, CA, TLS certificate, admin token and published address.
///
/// Everything a first start needs is created here, so `bulwarkd --data-dir DIR` runs on embedded defaults.
public struct ServerDataDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public var catalogPath: String { file("catalog.sqlite") }
    public var caCertificatePath: String { file(DataDirectoryLayout.caCertificateFile) }
    var caKeyPath: String { file("ca-key.pem") }
    var serverCertificatePath: String { file("server.pem") }
    var serverKeyPath: String { file("server-key.pem") }
    public var adminTokenPath: String { file(DataDirectoryLayout.adminTokenFile) }
    public var addressPath: String { file(DataDirectoryLayout.addressFile) }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Creates the directory (mode 0700) when missing and checks that it is a writable directory.
    public func prepare() throws {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw ServerError(.dataDirectory, "data directory \(path) is a file; pass --data-dir with a directory")
            }
        } else {
            do {
                try manager.createDirectory(
                    atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw ServerError(.dataDirectory, "cannot create data directory \(path); check the parent's permissions", cause: error)
            }
        }
        guard access(path, W_OK | X_OK) == 0 else {
            throw ServerError(.dataDirectory, "data directory \(path) is not writable; fix its owner or mode, or choose another --data-dir")
        }
        // It holds the CA's key, the admin token and the catalog: nobody else may even list it.
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw ServerError(.dataDirectory, "cannot read the mode of data directory \(path): \(String(cString: strerror(errno)))")
        }
        if status.st_mode & 0o077 != 0, chmod(path, 0o700) != 0 {
            throw ServerError(
                .dataDirectory,
                "data directory \(path) is open to other users (mode \(String(status.st_mode & 0o777, radix: 8))) and cannot be made 0700: \(String(cString: strerror(errno))); run chmod 700 \(path)")
        }
    }

    /// The CA, created on first start.
    public func loadOrCreateCA() throws -> CertificateAuthority {
        let manager = FileManager.default
        let present = [caCertificatePath, caKeyPath].filter { manager.fileExists(atPath: $0) }
        if present.count == 1 {
            // Making a new CA here would silently cut off every enrolled agent and every client that trusts it.
            throw ServerError(
                .dataDirectory,
                "only \(present[0]) of the CA is in \(path); restore ca.pem and ca-key.pem together from a backup")
        }
        if present.count == 2 {
            guard let certificate = try? String(contentsOfFile: caCertificatePath, encoding: .utf8),
                let key = try? String(contentsOfFile: caKeyPath, encoding: .utf8)
            else {
                throw ServerError(.dataDirectory, "cannot read the CA (ca.pem, ca-key.pem) in \(path); check their owner and mode")
            }
            do {
                return try CertificateAuthority(certificatePEM: certificate, privateKeyPEM: key)
            } catch {
                throw ServerError(
                    .dataDirectory, "the CA in \(path) (ca.pem, ca-key.pem) cannot be read; restore them from a backup",
                    cause: error)
            }
        }
        let ca = try CertificateAuthority.generate()
        try Self.writeAtomically(try ca.privateKeyPEM(), to: caKeyPath, mode: 0o600)
        try Self.writeAtomically(try ca.certificatePEM(), to: caCertificatePath, mode: 0o644)
        return ca
    }

    /// A fresh server certificate for the listen address, written next to the CA. Clients trust the CA, so the
    /// certificate can be remade on every start and always names the current address.
    func issueServerCertificate(ca: CertificateAuthority, host: String) throws -> (certificatePEM: String, keyPEM: String) {
        var dnsNames = ["localhost"]
        var addresses = ["127.0.0.1", "::1"]
        let hostname = ProcessInfo.processInfo.hostName
        if !hostname.isEmpty, hostname != "localhost" { dnsNames.append(hostname) }
        if CertificateAuthority.ipAddressBytes(host) != nil {
            if !addresses.contains(host), host != "0.0.0.0", host != "::" { addresses.append(host) }
        } else if !dnsNames.contains(host) {
            dnsNames.append(host)
        }
        let issued = try ca.issueServerCertificate(dnsNames: dnsNames, ipAddresses: addresses)
        let certificatePEM = try issued.certificate.serializeAsPEM().pemString
        let keyPEM = try issued.privateKey.serializeAsPEM().pemString
        try Self.writeAtomically(keyPEM, to: serverKeyPath, mode: 0o600)
        try Self.writeAtomically(certificatePEM, to: serverCertificatePath, mode: 0o644)
        return (certificatePEM, keyPEM)
    }

    /// The admin token for local use, created on first start (mode 0600).
    public func loadOrCreateAdminToken() throws -> String {
        if let token = try? String(contentsOfFile: adminTokenPath, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty
        {
            return token
        }
        if FileManager.default.fileExists(atPath: adminTokenPath) {
            throw ServerError(
                .dataDirectory, "\(adminTokenPath) exists but cannot be read or is empty; fix it, or delete it to make a new token")
        }
        let token = Self.randomToken()
        try Self.writeAtomically(token + "\n", to: adminTokenPath, mode: 0o600)
        return token
    }

    /// Publishes the address clients should use.
    func writeAddress(_ url: String) throws {
        try Self.writeAtomically(url + "\n", to: addressPath, mode: 0o644)
    }

    /// 32 random bytes as lower-case hex.
    static func randomToken() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { bytes in bytes.map { String(format: "%02x", $0) }.joined() }
    }

    /// Writes `contents` to a temporary file with `mode`, fsyncs it, renames it over `target` and flushes the folder,
    /// so that a crash leaves either the old file or the new one, and a secret is never readable by others, even
    /// briefly. The temporary name is random and opened `O_EXCL|O_NOFOLLOW`: nothing planted in the folder (a
    /// link, a file of another owner) can take the secret.
    static func writeAtomically(_ contents: String, to target: String, mode: mode_t) throws {
        let temporary = "\(target).tmp-\(randomToken().prefix(16))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw ServerError(.dataDirectory, "cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        let bytes = Array(contents.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var failure = written == bytes.count ? 0 : (written < 0 ? errno : ENOSPC)
        // The process's umask may have taken bits away; never added any.
        if failure == 0, fchmod(fd, mode) != 0 { failure = errno }
        if failure == 0, fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure == 0, rename(temporary, target) != 0 { failure = errno }
        if failure == 0 {
            let folder = (target as NSString).deletingLastPathComponent
            let directory = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if directory < 0 || fsync(directory) != 0 { failure = errno }
            if directory >= 0 { close(directory) }
        }
        guard failure == 0 else {
            let reason = String(cString: strerror(failure))
            unlink(temporary)
            throw ServerError(.dataDirectory, "cannot write \(target): \(reason)")
        }
    }
}
