import Foundation

extension S3Client {
    /// Creates the bucket; a bucket these credentials already own is no error.
    public func createBucket() async throws(S3Error) {
        let what = "create the bucket"
        let response = try await send(.PUT, what: what)
        if response.status == 409, S3ErrorBody(xml: response.bodyBytes)?.code == "BucketAlreadyOwnedByYou" { return }
        try check(response, what)
    }

    /// Checks that the bucket exists and these credentials may write, read and delete in it under the key prefix,
    /// with one tiny object written, read back and deleted.
    ///
    /// Each way this can fail has its own code: ``S3Error/Code-swift.struct/invalidCredentials``,
    /// ``S3Error/Code-swift.struct/noSuchBucket``, ``S3Error/Code-swift.struct/unreachable``,
    /// ``S3Error/Code-swift.struct/certificate``, ``S3Error/Code-swift.struct/timeout``,
    /// ``S3Error/Code-swift.struct/accessDenied``.
    public func checkBucket() async throws(S3Error) {
        let what = "check the bucket"
        let head = try await send(.HEAD, what: what)
        if !head.isSuccess {
            // A HEAD answer has no body, so it cannot tell a wrong secret from a missing permission: ask again with
            // a GET, whose error document names the cause.
            let detail = try await send(.GET, query: [("list-type", "2"), ("max-keys", "1")], what: what)
            try check(detail, what)
            throw failure(head, what)
        }
        let key = ".bulwark-probe-\(UUID().uuidString.lowercased())"
        let probe = Array("bulwark bucket check \(Date())\n".utf8)
        try await put(key: key, body: probe)
        let back = try await get(key: key)
        try await delete(key: key)
        guard back == probe else {
            throw S3Error(
                .invalidResponse,
                "the \(bucketDescription) gave back other bytes than were written to \(key); check the gateway "
                    + "and anything (proxy, cache) between")
        }
    }
}
