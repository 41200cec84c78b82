import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A gateway's answer, body read in full.
struct S3Response {
    var status: Int
    var headers: HTTPHeaders
    var body: ByteBuffer
    /// How many attempts it took: said in errors after retries ran out.
    var attempts: Int

    var bodyBytes: [UInt8] { Array(body.readableBytesView) }
    var isSuccess: Bool { (200..<300).contains(status) }
}

/// Our own deadline passed before the request ended.
private struct DeadlinePassed: Error {}

extension S3Client {
    /// Sends a signed request, retrying what ``S3RetryPolicy`` allows; returns any answer the gateway gave (callers
    /// decide what a 404 or 412 means) and throws only when there was none, or when the last of the attempts got
    /// a retryable answer that ``check(_:_:key:)`` then turns into an error.
    func send(
        _ method: HTTPMethod, key: String? = nil, query: [(name: String, value: String)] = [],
        headers extra: [(name: String, value: String)] = [], body: ByteBuffer? = nil, what: String
    ) async throws(S3Error) -> S3Response {
        let path = try encodedPath(key: key)
        let payloadHash =
            body.map { buffer in buffer.withUnsafeReadableBytes { S3Signer.hex(SHA256.hash(data: $0)) } }
            ?? S3Signer.emptyPayloadHash
        var url = configuration.origin + path
        if !query.isEmpty { url += "?" + S3Signer.canonicalQuery(query) }
        var attempt = 1
        while true {
            // Signed anew each attempt: the signature covers the time, and back-off may last long.
            let date = Date()
            var headers: [(name: String, value: String)] = [
                ("host", configuration.hostHeader),
                ("x-amz-date", S3Signer.timestamp(date)),
                ("x-amz-content-sha256", payloadHash),
            ]
            headers += extra
            let signed = S3Signer.Request(
                method: method.rawValue, encodedPath: path, query: query, headers: headers, payloadHash: payloadHash)
            var request = HTTPClientRequest(url: url)
            request.method = method
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.headers.add(name: "authorization", value: signer.authorization(for: signed, date: date))
            if let body {
                request.body = .bytes(body)
            } else if method == .PUT || method == .POST {
                request.headers.add(name: "content-length", value: "0")
            }

            let failure: S3Error
            do {
                let response = try await perform(request)
                let answer = S3Response(
                    status: Int(response.status), headers: response.headers, body: response.body, attempts: attempt)
                let s3Code = answer.isSuccess ? nil : S3ErrorBody(xml: answer.bodyBytes)?.code
                if attempt < configuration.maxAttempts && S3RetryPolicy.isRetryable(status: answer.status, s3Code: s3Code) {
                    try await pause(afterAttempt: attempt)
                    attempt += 1
                    continue
                }
                return answer
            } catch let error as S3Error {
                failure = error
            } catch {
                failure = classify(error, what: what, attempts: attempt)
            }
            guard attempt < configuration.maxAttempts, S3RetryPolicy.isRetryable(failure) else { throw failure }
            try await pause(afterAttempt: attempt)
            attempt += 1
        }
    }

    /// One attempt, bounded by the request timeout: head and body both, since a gateway may hang in either.
    private func perform(_ request: HTTPClientRequest) async throws -> (status: UInt, headers: HTTPHeaders, body: ByteBuffer) {
        let timeout = configuration.requestTimeout
        let http = self.http
        return try await withThrowingTaskGroup(of: (status: UInt, headers: HTTPHeaders, body: ByteBuffer).self) { group in
            group.addTask {
                let response = try await http.execute(request, deadline: .now() + TimeAmount(timeout))
                // Sized from Content-Length up front: growing a buffer to 4 MiB by doubling copies it several times.
                let expected = response.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
                var body = ByteBufferAllocator().buffer(capacity: min(max(expected, 0), 64 << 20))
                for try await var part in response.body { body.writeBuffer(&part) }
                return (response.status.code, response.headers, body)
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw DeadlinePassed()
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw DeadlinePassed() }
            return first
        }
    }

    private func pause(afterAttempt attempt: Int) async throws(S3Error) {
        do {
            try await Task.sleep(for: S3RetryPolicy.delay(afterAttempt: attempt))
        } catch {
            throw S3Error(.cancelled, "the S3 request was cancelled", cause: error)
        }
    }

    /// `/bucket` or `/bucket/prefix+key`, URI-encoded with the slashes of the key kept.
    func encodedPath(key: String?) throws(S3Error) -> String {
        let bucket = "/" + S3Signer.uriEncode(configuration.bucket, encodeSlash: true)
        guard let key else { return bucket }
        return bucket + "/" + S3Signer.uriEncode(try fullKey(key), encodeSlash: false)
    }

    /// `key` under the configuration's prefix, after checking it.
    func fullKey(_ key: String) throws(S3Error) -> String {
        guard !key.isEmpty else { throw S3Error(.invalidArgument, "an S3 object key must not be empty") }
        guard !key.hasPrefix("/") else {
            throw S3Error(.invalidArgument, "the S3 object key \"\(key)\" must not start with /")
        }
        // HTTP stacks may fold `.` and `..` in paths, which would silently address another object.
        guard !key.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == "." || $0 == ".." })
        else {
            throw S3Error(.invalidArgument, "the S3 object key \"\(key)\" has a . or .. segment")
        }
        let full = configuration.keyPrefix + key
        guard full.utf8.count <= 1024 else {
            throw S3Error(.invalidArgument, "the S3 object key \"\(full.prefix(64))…\" is over S3's 1024 bytes")
        }
        return full
    }

    /// The error for an answer that is not a success; `key` is what it was about, when it was about an object.
    func failure(_ response: S3Response, _ what: String, key: String? = nil) -> S3Error {
        let body = S3ErrorBody(xml: response.bodyBytes)
        let status = response.status
        let detail = body.map { body in
            " (\(body.code)\(body.message.flatMap { $0.isEmpty ? nil : ": \($0)" } ?? ""))"
        } ?? " (HTTP \(status))"
        let subject = key.map { "object \"\($0)\" in \(bucketDescription)" } ?? bucketDescription
        func error(_ code: S3Error.Code, _ message: String) -> S3Error {
            S3Error(code, message, status: status, s3Code: body?.code)
        }
        switch (status, body?.code) {
        case (_, "InvalidAccessKeyId"):
            return error(
                .invalidCredentials,
                "\(configuration.origin) does not know the access key \(configuration.credentials.accessKey)\(detail) "
                    + "while trying to \(what); check the access_key in the credentials file")
        case (_, "SignatureDoesNotMatch"):
            return error(
                .invalidCredentials,
                "\(configuration.origin) refused the signature for access key \(configuration.credentials.accessKey)"
                    + " while trying to \(what): the secret key is wrong; check the secret_key in the credentials file")
        case (_, "RequestTimeTooSkewed"):
            return error(
                .clockSkew,
                "\(configuration.origin) refused the request to \(what): this machine's clock differs from the "
                    + "gateway's by over 15 minutes; synchronise the clocks (NTP)")
        case (404, nil) where key == nil:
            return error(
                .noSuchBucket,
                "the \(bucketDescription) does not exist\(detail); create it or correct the bucket name")
        case (_, "NoSuchBucket"):
            return error(
                .noSuchBucket,
                "the \(bucketDescription) does not exist\(detail); create it or correct the bucket name")
        case (404, _):
            return error(.noSuchKey, "there is no \(subject)\(detail)")
        case (403, _):
            return error(
                .accessDenied,
                "\(configuration.origin) denied access to \(what) in \(subject)\(detail); check that the keys belong "
                    + "to the bucket's owner or that its policy allows them")
        case (500..<600, _), (_, "SlowDown"):
            let attempts = response.attempts == 1 ? "" : " after \(response.attempts) attempts"
            return error(
                .server,
                "\(configuration.origin) failed to \(what) in \(subject)\(detail)\(attempts); check the gateway's "
                    + "health and logs")
        default:
            return error(.rejected, "\(configuration.origin) refused to \(what) in \(subject)\(detail)")
        }
    }

    /// Throws the error for `response` unless it is a success.
    func check(_ response: S3Response, _ what: String, key: String? = nil) throws(S3Error) {
        guard response.isSuccess else { throw failure(response, what, key: key) }
    }

    /// An ``S3Error`` for a request that got no answer.
    func classify(_ error: any Error, what: String, attempts: Int) -> S3Error {
        let endpoint = configuration.origin
        let tries = attempts == 1 ? "" : " (\(attempts) attempts)"
        let timeout = configuration.requestTimeout
        if error is DeadlinePassed || error is CancellationError && !Task.isCancelled {
            return S3Error(
                .timeout,
                "\(endpoint) did not finish the request to \(what) within \(timeout)\(tries); the gateway hangs or is "
                    + "overloaded (a full OSD makes writes hang): check its health and free space")
        }
        if Task.isCancelled || error is CancellationError {
            return S3Error(.cancelled, "the S3 request to \(what) was cancelled", cause: error)
        }
        if let client = error as? HTTPClientError {
            switch client {
            case .deadlineExceeded, .readTimeout:
                return S3Error(
                    .timeout,
                    "\(endpoint) did not finish the request to \(what) within \(timeout)\(tries); the gateway hangs or "
                        + "is overloaded (a full OSD makes writes hang): check its health and free space",
                    cause: error)
            case .connectTimeout:
                return S3Error(
                    .unreachable,
                    "cannot connect to \(endpoint) to \(what): no answer within \(configuration.connectTimeout)\(tries); "
                        + "check the endpoint's address and any firewall between",
                    cause: error)
            case .cancelled:
                return S3Error(.cancelled, "the S3 request to \(what) was cancelled", cause: error)
            case .remoteConnectionClosed:
                return S3Error(
                    .unreachable,
                    "\(endpoint) closed the connection during the request to \(what)\(tries); is the gateway "
                        + "restarting?",
                    cause: error)
            default:
                break
            }
        }
        if Self.isCertificateFailure(error) {
            let trust = configuration.caFile.map { "the CA in \($0)" } ?? "the system's trusted CAs"
            return S3Error(
                .certificate,
                "the TLS certificate of \(endpoint) is not trusted: it is not signed by \(trust), or not for this host "
                    + "name; set the CA file to the PEM of the CA that signed the gateway's certificate",
                cause: error)
        }
        if let connection = error as? NIOConnectionError, connection.connectionErrors.isEmpty {
            return S3Error(
                .unreachable,
                "cannot resolve the host name of \(endpoint) to \(what)\(tries); check the endpoint's spelling and DNS",
                cause: error)
        }
        return S3Error(
            .unreachable,
            "cannot reach \(endpoint) to \(what)\(tries): \(Self.reason(error)); is the gateway running, and are the "
                + "endpoint's host and port right?",
            cause: error)
    }

    /// A short reason for a connection failure: `connection refused` rather than a nested error dump.
    static func reason(_ error: any Error) -> String {
        if let connection = error as? NIOConnectionError, let first = connection.connectionErrors.first {
            return reason(first.error)
        }
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        return "\(error)"
    }

    static func isCertificateFailure(_ error: any Error) -> Bool {
        if error is NIOSSLError || error is NIOSSLExtraError || error is BoringSSLError { return true }
        let text = String(describing: error)
        return text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed")
    }
}
