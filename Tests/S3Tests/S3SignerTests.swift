import Crypto
import Foundation
import S3
import Testing

/// AWS Signature V4 against the examples of AWS's S3 documentation ("Signature Calculations for the Authorization
/// Header: Transferring Payload in a Single Chunk"): if any of these fail, every request the client signs is refused.
@Suite struct S3SignerTests {
    static let signer = S3Signer(
        credentials: S3Credentials(
            accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1")
    /// 20130524T000000Z.
    static let date = Date(timeIntervalSince1970: 1_369_353_600)
    static let host = ("host", "examplebucket.s3.amazonaws.com")
    static let amzDate = ("x-amz-date", "20130524T000000Z")
    static let emptyHash = ("x-amz-content-sha256", S3Signer.emptyPayloadHash)

    @Test func getObjectWithRange() {
        let request = S3Signer.Request(
            method: "GET", encodedPath: "/test.txt",
            headers: [Self.host, ("Range", "bytes=0-9"), Self.emptyHash, Self.amzDate],
            payloadHash: S3Signer.emptyPayloadHash)
        let canonical = Self.signer.canonicalRequest(request)
        #expect(
            canonical.text == """
                GET
                /test.txt

                host:examplebucket.s3.amazonaws.com
                range:bytes=0-9
                x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                x-amz-date:20130524T000000Z

                host;range;x-amz-content-sha256;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """)
        #expect(
            Self.signer.stringToSign(canonicalRequest: canonical.text, date: Self.date) == """
                AWS4-HMAC-SHA256
                20130524T000000Z
                20130524/us-east-1/s3/aws4_request
                7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
                """)
        #expect(
            Self.signer.signature(for: request, date: Self.date)
                == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(
            Self.signer.authorization(for: request, date: Self.date)
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test func putObjectWithEncodedKey() {
        let payload = S3Signer.hex(SHA256.hash(data: Array("Welcome to Amazon S3.".utf8)))
        #expect(payload == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let request = S3Signer.Request(
            method: "PUT", encodedPath: "/" + S3Signer.uriEncode("test$file.text", encodeSlash: false),
            headers: [
                Self.host, ("Date", "Fri, 24 May 2013 00:00:00 GMT"), Self.amzDate,
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"), ("x-amz-content-sha256", payload),
            ],
            payloadHash: payload)
        #expect(request.encodedPath == "/test%24file.text")
        #expect(
            Self.signer.signature(for: request, date: Self.date)
                == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test func getBucketLifecycleWithEmptyQueryValue() {
        let request = S3Signer.Request(
            method: "GET", encodedPath: "/", query: [("lifecycle", "")], headers: [Self.host, Self.amzDate, Self.emptyHash],
            payloadHash: S3Signer.emptyPayloadHash)
        #expect(
            Self.signer.signature(for: request, date: Self.date)
                == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test func listObjectsWithSortedQuery() {
        // Given out of order: the canonical query sorts by name.
        let request = S3Signer.Request(
            method: "GET", encodedPath: "/", query: [("prefix", "J"), ("max-keys", "2")],
            headers: [Self.host, Self.amzDate, Self.emptyHash], payloadHash: S3Signer.emptyPayloadHash)
        #expect(S3Signer.canonicalQuery(request.query) == "max-keys=2&prefix=J")
        #expect(
            Self.signer.signature(for: request, date: Self.date)
                == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func aWrongSecretChangesTheSignature() {
        let other = S3Signer(
            credentials: S3Credentials(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wrong"), region: "us-east-1")
        let request = S3Signer.Request(
            method: "GET", encodedPath: "/test.txt", headers: [Self.host, Self.amzDate, Self.emptyHash],
            payloadHash: S3Signer.emptyPayloadHash)
        #expect(other.signature(for: request, date: Self.date) != Self.signer.signature(for: request, date: Self.date))
    }

    @Test func timestampIsUTC() {
        #expect(S3Signer.timestamp(Self.date) == "20130524T000000Z")
        #expect(S3Signer.timestamp(Date(timeIntervalSince1970: 1_700_000_000.9)) == "20231114T221320Z")
    }

    @Test func uriEncodingKeepsOnlyTheUnreservedSet() {
        #expect(S3Signer.uriEncode("AZaz09-._~", encodeSlash: true) == "AZaz09-._~")
        #expect(S3Signer.uriEncode("a b/c", encodeSlash: false) == "a%20b/c")
        #expect(S3Signer.uriEncode("a b/c", encodeSlash: true) == "a%20b%2Fc")
        #expect(S3Signer.uriEncode("+*=&?%$", encodeSlash: true) == "%2B%2A%3D%26%3F%25%24")
        #expect(S3Signer.uriEncode("é€", encodeSlash: true) == "%C3%A9%E2%82%AC")
        #expect(S3Signer.canonicalQuery([("b", "x y"), ("a", "1/2"), ("a", "0")]) == "a=0&a=1%2F2&b=x%20y")
    }

    @Test func headerValuesAreTrimmedAndSpacesCollapsed() {
        let request = S3Signer.Request(
            method: "GET", encodedPath: "/", headers: [("X-Amz-Meta-A", "  one   two  "), ("HOST", "h")],
            payloadHash: "p")
        #expect(Self.signer.canonicalRequest(request).text == "GET\n/\n\nhost:h\nx-amz-meta-a:one two\n\nhost;x-amz-meta-a\np")
    }
}
