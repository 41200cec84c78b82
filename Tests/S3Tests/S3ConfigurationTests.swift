import Foundation
import S3
import Testing

@Suite struct S3ConfigurationTests {
    static let credentials = S3Credentials(accessKey: "AK", secretKey: "SECRET-VALUE-42")

    func configuration(
        endpoint: String = "https://s3.example.net:7480", bucket: String = "bulwark-data", keyPrefix: String = "",
        region: String = "us-east-1", caFile: String? = nil, maxAttempts: Int = 4,
        requestTimeout: Duration = .seconds(30)
    ) throws(S3Error) -> S3Configuration {
        try S3Configuration(
            endpoint: URL(string: endpoint)!, bucket: bucket, region: region, keyPrefix: keyPrefix,
            credentials: Self.credentials, caFile: caFile, requestTimeout: requestTimeout, maxAttempts: maxAttempts)
    }

    func refused(_ make: () throws(S3Error) -> S3Configuration) -> S3Error? {
        do {
            _ = try make()
            return nil
        } catch {
            return error
        }
    }

    @Test func goodValuesPass() throws {
        let configuration = try configuration(keyPrefix: "bulwark/ds1/")
        #expect(configuration.region == "us-east-1")
        #expect(try self.configuration(endpoint: "http://127.0.0.1:8080", bucket: "a.b-c1").bucket == "a.b-c1")
        // Configurations and signers end up in logs: the secret must not.
        #expect(!"\(configuration)".contains("SECRET-VALUE-42") && !String(reflecting: configuration).contains("SECRET-VALUE-42"))
        #expect(!"\(S3Signer(credentials: configuration.credentials, region: "us-east-1"))".contains("SECRET-VALUE-42"))
    }

    @Test(arguments: ["ftp://s3.example.net", "s3.example.net", "https://", "https://h/bucket", "https://h?x=1",
        "https://user:pw@h"])
    func badEndpointsAreRefused(endpoint: String) {
        let error = refused { () throws(S3Error) in try configuration(endpoint: endpoint) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("endpoint") == true)
    }

    @Test(arguments: ["ab", String(repeating: "a", count: 64), "Bulwark", "bul_wark", "-bulwark", "bulwark-",
        "bul..wark", "192.168.1.1", "xn--bulwark"])
    func badBucketNamesAreRefused(bucket: String) {
        let error = refused { () throws(S3Error) in try configuration(bucket: bucket) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("\"\(bucket)\"") == true)
    }

    @Test(arguments: ["/bulwark/", "a//b/", "a/../b/", "./a"])
    func badKeyPrefixesAreRefused(prefix: String) {
        let error = refused { () throws(S3Error) in try configuration(keyPrefix: prefix) }
        #expect(error?.code == .invalidConfiguration)
    }

    @Test func otherValuesAreChecked() {
        #expect(refused { () throws(S3Error) in try configuration(region: "US East") }?.code == .invalidConfiguration)
        #expect(refused { () throws(S3Error) in try configuration(maxAttempts: 0) }?.code == .invalidConfiguration)
        #expect(
            refused { () throws(S3Error) in try configuration(requestTimeout: .zero) }?.code == .invalidConfiguration)
        // A CA only makes sense for https.
        #expect(
            refused { () throws(S3Error) in try configuration(endpoint: "http://h:1", caFile: "/ca.pem") }?.code
                == .invalidConfiguration)
    }

    @Test func aMissingCAFileIsRefusedByTheClient() throws {
        let configuration = try configuration(caFile: "/nonexistent/ca.pem")
        let error = #expect(throws: S3Error.self) { try S3Client(configuration: configuration) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("/nonexistent/ca.pem") == true)
    }
}
