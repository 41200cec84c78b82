import Foundation
@testable import S3
import Testing

@Suite struct S3RetryPolicyTests {
    @Test(arguments: [500, 502, 503, 504])
    func serverFailuresAreRetried(status: Int) {
        #expect(S3RetryPolicy.isRetryable(status: status, s3Code: nil))
    }

    @Test(arguments: [400, 401, 403, 404, 409, 412, 416, 501])
    func clientErrorsAreNotRetried(status: Int) {
        #expect(!S3RetryPolicy.isRetryable(status: status, s3Code: nil))
        #expect(!S3RetryPolicy.isRetryable(status: status, s3Code: "AccessDenied"))
    }

    @Test func slowDownIsRetriedWhateverTheStatus() {
        #expect(S3RetryPolicy.isRetryable(status: 503, s3Code: "SlowDown"))
        #expect(S3RetryPolicy.isRetryable(status: 400, s3Code: "SlowDown"))
        #expect(!S3RetryPolicy.isRetryable(status: 403, s3Code: "SignatureDoesNotMatch"))
        #expect(!S3RetryPolicy.isRetryable(status: 404, s3Code: "NoSuchBucket"))
    }

    @Test func lostConnectionsAreRetriedButNotTimeoutsOrCertificates() {
        #expect(S3RetryPolicy.isRetryable(S3Error(.unreachable, "")))
        #expect(!S3RetryPolicy.isRetryable(S3Error(.timeout, "")))
        #expect(!S3RetryPolicy.isRetryable(S3Error(.certificate, "")))
        #expect(!S3RetryPolicy.isRetryable(S3Error(.invalidCredentials, "")))
    }

    @Test func backOffGrowsAndIsCapped() {
        for attempt in 1...30 {
            let delay = S3RetryPolicy.delay(afterAttempt: attempt)
            let ceiling = Duration.milliseconds(min(5_000, 100 << min(attempt - 1, 10)))
            #expect(delay >= ceiling / 2 && delay <= ceiling)
        }
    }
}

@Suite struct S3XMLTests {
    @Test func aListObjectsV2PageParses() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Name>bucket</Name><Prefix>ds/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
              <IsTruncated>true</IsTruncated>
              <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
              <Contents><Key>ds/a &amp; b</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>
                <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>4194304</Size>
                <StorageClass>STANDARD</StorageClass></Contents>
              <Contents><Key>ds/c</Key><ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag><Size>0</Size></Contents>
            </ListBucketResult>
            """
        let page = try S3ListPage(xml: Array(xml.utf8))
        #expect(
            page.objects == [
                S3Object(key: "ds/a & b", size: 4_194_304, etag: "9b2cf535f27731c974343645a3985328"),
                S3Object(key: "ds/c", size: 0, etag: "d41d8cd98f00b204e9800998ecf8427e"),
            ])
        #expect(page.isTruncated)
        #expect(page.nextContinuationToken == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")

        let last = try S3ListPage(
            xml: Array("<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>".utf8))
        #expect(last.objects.isEmpty && !last.isTruncated && last.nextContinuationToken == nil)
    }

    @Test func aBrokenListingIsAnInvalidResponse() {
        for xml in ["<html>502 Bad Gateway</html>", "<ListBucketResult><Contents><Key>k</Key></Contents>",
            "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"]
        {
            let error = #expect(throws: S3Error.self) { try S3ListPage(xml: Array(xml.utf8)) }
            #expect(error?.code == .invalidResponse)
        }
    }

    @Test func anErrorBodyParses() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code>\
            <Message>The specified bucket does not exist</Message><BucketName>missing</BucketName>\
            <RequestId>tx0000-1</RequestId><HostId>h</HostId></Error>
            """
        let body = try #require(S3ErrorBody(xml: Array(xml.utf8)))
        #expect(body.code == "NoSuchBucket")
        #expect(body.message == "The specified bucket does not exist")
        #expect(body.requestID == "tx0000-1")
        #expect(S3ErrorBody(xml: []) == nil)
        #expect(S3ErrorBody(xml: Array("<html>oops</html>".utf8)) == nil)
    }

    @Test func aDeleteResultListsTheFailures() throws {
        let xml = """
            <DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Deleted><Key>a</Key></Deleted>\
            <Error><Key>b</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>
            """
        let result = try S3DeleteResult(xml: Array(xml.utf8))
        #expect(result.failed == [S3DeleteFailure(key: "b", code: "AccessDenied", message: "Access Denied")])
    }

    @Test func keysAreEscapedForTheDeleteDocument() {
        #expect(S3Client.escapeXML("a&b<c>\"d'") == "a&amp;b&lt;c&gt;&quot;d&apos;")
    }
}
