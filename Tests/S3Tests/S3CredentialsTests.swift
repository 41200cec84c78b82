import Foundation
import S3
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct S3CredentialsTests {
    static let secret = "sEcReT/do-not-print-0123456789abcdefghij"
    static let good = "# Bulwark S3\n\naccess_key = AKIDEXAMPLE\n  secret_key=\(secret)  \n"

    /// Writes `text` to a fresh file with `mode`; the folder is removed by the caller.
    func write(_ text: String, mode: Int = 0o600) throws -> (TemporaryDirectory, String) {
        let folder = try TemporaryDirectory("s3-credentials")
        let path = folder.file("credentials")
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return (folder, path)
    }

    /// Loads `path`, expecting a credentials-file error, and checks the secret stays out of the message.
    func refusal(_ path: String) throws -> S3Error {
        let error = try #require(throws: S3Error.self) { try S3Credentials.load(file: path) }
        #expect(error.code == .credentialsFile)
        #expect(!error.description.contains(Self.secret))
        return error
    }

    @Test func aGoodFileLoads() throws {
        let (folder, path) = try write(Self.good)
        defer { folder.cleanUp() }
        let credentials = try S3Credentials.load(file: path)
        #expect(credentials == S3Credentials(accessKey: "AKIDEXAMPLE", secretKey: Self.secret))
        #expect(!"\(credentials)".contains(Self.secret))
        let (readOnly, readOnlyPath) = try write(Self.good, mode: 0o400)
        defer { readOnly.cleanUp() }
        #expect(try S3Credentials.load(file: readOnlyPath).accessKey == "AKIDEXAMPLE")
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o660, 0o700, 0o606])
    func aFileOthersMayReadOrWriteIsRefused(mode: Int) throws {
        let (folder, path) = try write(Self.good, mode: mode)
        defer { folder.cleanUp() }
        let error = try refusal(path)
        #expect(error.message.contains("chmod 600"))
    }

    @Test func aSymlinkIsRefused() throws {
        let (folder, path) = try write(Self.good)
        defer { folder.cleanUp() }
        let link = folder.file("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
        #expect(try refusal(link).message.contains("symlink"))
    }

    @Test func aFileOfAnotherUserIsRefused() throws {
        let (folder, path) = try write(Self.good)
        defer { folder.cleanUp() }
        // Only root can give a file away; others test their own file, which must load.
        guard geteuid() == 0 else { return }
        #expect(chown(path, 65534, 65534) == 0)
        #expect(try refusal(path).message.contains("chown"))
    }

    @Test func aMissingFileIsRefused() throws {
        #expect(try refusal("/nonexistent/bulwark-s3-credentials").message.contains("access_key"))
    }

    @Test(arguments: [
        "access_key = AKIDEXAMPLE\n",  // no secret
        "secret_key = \(secret)\n",  // no access key
        "access_key = AKIDEXAMPLE\n\(secret)\n",  // a line without =, which is the secret itself
        "access_key = AKIDEXAMPLE\nsecret = \(secret)\n",  // unknown name
        "access_key = AKIDEXAMPLE\nsecret_key = \(secret)\nsecret_key = \(secret)x\n",  // twice
        "access_key = \nsecret_key = \(secret)\n",  // empty
        "access_key = AKID EXAMPLE\nsecret_key = \(secret)\n",  // space inside
    ])
    func aBadlyFormattedFileIsRefused(text: String) throws {
        let (folder, path) = try write(text)
        defer { folder.cleanUp() }
        _ = try refusal(path)
    }
}
