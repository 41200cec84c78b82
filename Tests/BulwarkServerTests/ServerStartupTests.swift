import BulwarkAPI
import BulwarkClient
import BulwarkServer
import Foundation
import TestSupport
import Testing

/// `bulwarkd` on its embedded defaults: the data directory it makes, TLS with its own CA, the admin token.
@Suite struct ServerStartupTests {
    @Test func firstStartCreatesTheDataDirectoryAndAnswersOverTLS() async throws {
        try await withServer { client, directory in
            let status: ServerStatus = try await client.get("/v1/status")
            #expect(!status.serverID.isEmpty)
            #expect(status.version.isEmpty == false)
            for file in ["ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "admin.token", "address", "catalog.sqlite"] {
                #expect(FileManager.default.fileExists(atPath: "\(directory.path)/\(file)"), "\(file)")
            }
            for secret in ["ca-key.pem", "server-key.pem", "admin.token"] {
                let mode = try FileManager.default.attributesOfItem(atPath: "\(directory.path)/\(secret)")[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(secret) must be readable by its owner only")
            }
            let published = try String(contentsOfFile: directory.addressPath, encoding: .utf8)
            #expect(published.trimmingCharacters(in: .whitespacesAndNewlines) == client.configuration.serverURL.absoluteString)
        }
    }

    @Test func wrongTokenIsRefusedWithAJSONBody() async throws {
        try await withServer { client, _ in
            let wrong = try BulwarkAPIClient(
                configuration: ClientConfiguration(
                    serverURL: client.configuration.serverURL, token: "not-the-token", caPEM: client.configuration.caPEM))
            let error = await #expect(throws: ClientError.self) { let _: ServerStatus = try await wrong.get("/v1/status") }
            #expect(error?.code == .unauthorized)
            #expect(error?.message.contains("admin token") == true)
            await wrong.shutdown()
        }
    }

    @Test func unknownEndpointIsANotFoundJSONError() async throws {
        try await withServer { client, _ in
            let error = await #expect(throws: ClientError.self) { let _: ServerStatus = try await client.get("/v1/nothing-here") }
            #expect(error?.code == .notFound)
            #expect(error?.message.contains("/v1/nothing-here") == true)
        }
    }

    @Test func aServerWithoutTheRightCAIsNotTrusted() async throws {
        try await withServer { client, _ in
            let untrusting = try BulwarkAPIClient(
                configuration: ClientConfiguration(
                    serverURL: client.configuration.serverURL, token: client.configuration.token,
                    caPEM: try CertificateAuthority.generate(commonName: "Someone else").certificatePEM()))
            let error = await #expect(throws: ClientError.self) { let _: ServerStatus = try await untrusting.get("/v1/status") }
            #expect(error?.code == .unreachable)
            await untrusting.shutdown()
        }
    }

    @Test func restartKeepsIdentityCAAndToken() async throws {
        let directory = try TemporaryDirectory("bulwarkd-restart")
        defer { directory.cleanUp() }
        let data = ServerDataDirectory(path: directory.path)
        try data.prepare()
        let first = try data.loadOrCreateCA().certificatePEM()
        let token = try data.loadOrCreateAdminToken()
        #expect(try data.loadOrCreateCA().certificatePEM() == first)
        #expect(try data.loadOrCreateAdminToken() == token)
        #expect(token.count == 64)
    }

    @Test func halfACAIsRefusedNotReplaced() throws {
        let directory = try TemporaryDirectory("bulwarkd-ca")
        defer { directory.cleanUp() }
        let data = ServerDataDirectory(path: directory.path)
        try data.prepare()
        let original = try data.loadOrCreateCA().certificatePEM()
        try FileManager.default.removeItem(atPath: directory.file("ca-key.pem"))
        let error = #expect(throws: ServerError.self) { try data.loadOrCreateCA() }
        #expect(error?.message.contains("restore") == true)
        #expect(try String(contentsOfFile: data.caCertificatePath, encoding: .utf8) == original, "ca.pem stays as it was")
    }

    /// The data directory is closed to other users, and a secret is written only to a file of its own: a link
    /// planted where the writer puts its temporary file is never followed.
    @Test func theDataDirectoryIsPrivateAndSecretsFollowNoLink() throws {
        let directory = try TemporaryDirectory("bulwarkd-modes")
        defer { directory.cleanUp() }
        chmod(directory.path, 0o755)
        let data = ServerDataDirectory(path: directory.path)
        try data.prepare()
        var status = stat()
        #expect(stat(directory.path, &status) == 0 && status.st_mode & 0o777 == 0o700)
        _ = try data.loadOrCreateAdminToken()
        #expect(stat(data.adminTokenPath, &status) == 0 && status.st_mode & 0o777 == 0o600)
        // No temporary file is left beside the secret.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(!names.contains { $0.contains(".tmp") }, "\(names)")

        // A link where an old writer put its fixed temporary name (`admin-token.tmp-PID`) leads nowhere now.
        let victim = directory.file("victim")
        try "untouched".write(toFile: victim, atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: data.adminTokenPath + ".tmp-\(getpid())", withDestinationPath: victim)
        try FileManager.default.removeItem(atPath: data.adminTokenPath)
        _ = try data.loadOrCreateAdminToken()
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "untouched")
    }

    @Test func dataDirectoryThatIsAFileIsRefused() throws {
        let directory = try TemporaryDirectory("bulwarkd-file")
        defer { directory.cleanUp() }
        let file = directory.file("not-a-dir")
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        let error = #expect(throws: ServerError.self) { try ServerDataDirectory(path: file).prepare() }
        #expect(error?.code == .dataDirectory)
        #expect(error?.message.contains(file) == true)
    }

    @Test(arguments: [
        ("127.0.0.1:9443", "127.0.0.1", 9443), ("[::1]:8443", "::1", 8443), (":9000", "0.0.0.0", 9000),
        ("backup1.example:0", "backup1.example", 0),
    ])
    func parsesListenAddresses(text: String, host: String, port: Int) throws {
        let parsed = try ServerConfiguration.parseListen(text)
        #expect(parsed.host == host)
        #expect(parsed.port == port)
    }

    @Test(arguments: ["9443", "host:", "host:99999", "[::1]9443", "host:port"])
    func refusesBadListenAddresses(text: String) {
        let error = #expect(throws: ServerError.self) { try ServerConfiguration.parseListen(text) }
        #expect(error?.message.contains(text) == true)
    }

    @Test func clientConfigurationExplainsWhatIsMissing() {
        let none = #expect(throws: ClientError.self) {
            try ClientConfiguration.resolve(server: nil, token: nil, ca: nil, environment: ["BULWARK_DATA_DIR": "/nonexistent"])
        }
        #expect(none?.code == .configuration)
        #expect(none?.message.contains("--server") == true)
        let http = #expect(throws: ClientError.self) {
            try ClientConfiguration.resolve(server: "http://x:1", token: "t", ca: nil, environment: [:])
        }
        #expect(http?.message.contains("https://") == true)
        let noToken = #expect(throws: ClientError.self) {
            try ClientConfiguration.resolve(server: "https://x:1", token: nil, ca: nil, environment: ["BULWARK_DATA_DIR": "/nonexistent"])
        }
        #expect(noToken?.message.contains("BULWARK_TOKEN") == true)
    }
}
