public import Foundation

/// What an enrolled agent knows about itself: its server, its host name, its key and certificate, and the CA it
/// trusts. Kept in the agent's state directory (default `/var/lib/bulwark-agent`).
///
/// ```
/// agent.json        {"server": "https://…", "host": "kvm1"}
/// agent.pem         the client certificate the server's CA signed
/// agent-key.pem     the private key (mode 0600)
/// ca.pem            the server's CA certificate
/// ```
public struct AgentIdentity: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public static let defaultStateDirectory = "/var/lib/bulwark-agent"

    public var serverURL: URL
    public var host: String
    public var certificatePEM: String
    public var privateKeyPEM: String
    public var caPEM: String

    public init(serverURL: URL, host: String, certificatePEM: String, privateKeyPEM: String, caPEM: String) {
        self.serverURL = serverURL
        self.host = host
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
        self.caPEM = caPEM
    }

    /// Names the host and server only: the key must never reach a log line or an error message.
    public var description: String { "agent \(host) of \(serverURL.absoluteString)" }
    public var debugDescription: String { description }

    struct Settings: Codable {
        var server: String
        var host: String
    }

    static let settingsFile = "agent.json"
    static let certificateFile = "agent.pem"
    static let keyFile = "agent-key.pem"
    static let caFile = "ca.pem"

    /// Whether `directory` holds an identity (its settings file exists).
    public static func exists(in directory: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(directory)/\(settingsFile)")
    }

    /// Reads the identity in `directory`; fails with `notEnrolled`, naming the missing or damaged file.
    public static func load(from directory: String) throws(AgentError) -> AgentIdentity {
        func read(_ name: String) throws(AgentError) -> String {
            let path = "\(directory)/\(name)"
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
            else {
                throw AgentError(
                    .notEnrolled,
                    "cannot read \(path): this host is not enrolled, or its state directory is damaged; run "
                        + "`bulwark-agent enroll --server URL --token TOKEN --state-dir \(directory)`")
            }
            return text
        }
        let settingsText = try read(settingsFile)
        let settings: Settings
        do {
            settings = try JSONDecoder().decode(Settings.self, from: Data(settingsText.utf8))
        } catch {
            throw AgentError(
                .notEnrolled, "\(directory)/\(settingsFile) is damaged: enroll this host again", cause: error)
        }
        guard let url = URL(string: settings.server), url.scheme == "https" else {
            throw AgentError(
                .notEnrolled, "\(directory)/\(settingsFile) names '\(settings.server)', not an https URL: enroll again")
        }
        return AgentIdentity(
            serverURL: url, host: settings.host, certificatePEM: try read(certificateFile),
            privateKeyPEM: try read(keyFile), caPEM: try read(caFile))
    }

    /// Writes the identity into `directory` (created 0700), each file atomically, the key readable by root only.
    /// The settings file goes last: its presence is what makes the directory an identity. When an identity is
    /// already there its settings file goes first, so a crash half-way leaves "not enrolled", never the old
    /// settings over a new key.
    public func save(to directory: String) throws(AgentError) {
        let manager = FileManager.default
        let settings: Data
        do {
            try manager.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            settings = try encoder.encode(Settings(server: serverURL.absoluteString, host: host))
        } catch {
            throw AgentError(
                .local, "cannot create the state directory \(directory): \(error); run as root or pass --state-dir",
                cause: error)
        }
        let settingsPath = "\(directory)/\(Self.settingsFile)"
        if unlink(settingsPath) != 0, errno != ENOENT {
            throw AgentError(.local, "cannot replace \(settingsPath): \(String(cString: strerror(errno)))")
        }
        for (name, data, mode) in [
            (Self.keyFile, Data(privateKeyPEM.utf8), mode_t(0o600)),
            (Self.certificateFile, Data(certificatePEM.utf8), 0o644),
            (Self.caFile, Data(caPEM.utf8), 0o644),
            (Self.settingsFile, settings, 0o644),
        ] {
            try Self.writeAtomically(data, to: "\(directory)/\(name)", mode: mode)
        }
        // The renames are durable only once the directory itself is on disk.
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    /// Writes `data` to a temporary file made with `mode` (so a key is never readable by others, even briefly),
    /// fsyncs it and renames it over `path`.
    static func writeAtomically(_ data: Data, to path: String, mode: mode_t) throws(AgentError) {
        let temporary = "\(path).tmp"
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw AgentError(.local, "cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        // The umask may have narrowed the mode; the files other tools read (certificate, CA) must stay readable.
        var failure = fchmod(descriptor, mode) == 0 ? 0 : errno
        if failure == 0 {
            failure = data.withUnsafeBytes { buffer -> Int32 in
                var offset = 0
                while offset < buffer.count {
                    let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return errno
                    }
                    offset += written
                }
                return 0
            }
        }
        if failure == 0, fsync(descriptor) != 0 { failure = errno }
        close(descriptor)
        if failure == 0, rename(temporary, path) != 0 { failure = errno }
        guard failure == 0 else {
            unlink(temporary)
            throw AgentError(.local, "cannot write \(path): \(String(cString: strerror(failure)))")
        }
    }
}
