import Crypto
import Foundation
public import NIOCore
import NIOHTTP1

extension S3Client {
    /// Stores `body` at `key`, replacing what is there unless `ifNoneMatch`.
    ///
    /// With `ifNoneMatch` the PUT sends `If-None-Match: *`: the gateway writes only if no object has the key, atomically
    /// (of concurrent writers exactly one wins), and the result is ``S3PutResult/alreadyExists`` otherwise. When an
    /// attempt stored the object but its answer was lost, the retry finds the key taken: `alreadyExists` then means
    /// "stored, by this call or another", which is what content-addressed writes need.
    @discardableResult
    public func put(key: String, body: ByteBuffer, ifNoneMatch: Bool = false) async throws(S3Error) -> S3PutResult {
        let what = "store object \"\(key)\""
        let response = try await send(
            .PUT, key: key, headers: ifNoneMatch ? [("if-none-match", "*")] : [], body: body, what: what)
        if ifNoneMatch && response.status == 412 { return .alreadyExists }
        try check(response, what, key: key)
        return .stored(etag: response.headers.first(name: "etag").map(S3Object.unquote))
    }

    /// Stores `body` at `key`; see ``put(key:body:ifNoneMatch:)-(_,ByteBuffer,_)``.
    @discardableResult
    public func put(key: String, body: [UInt8], ifNoneMatch: Bool = false) async throws(S3Error) -> S3PutResult {
        try await put(key: key, body: ByteBuffer(bytes: body), ifNoneMatch: ifNoneMatch)
    }

    /// The object's bytes, or those in `range` (byte offsets, upper bound excluded).
    ///
    /// Throws ``S3Error/Code-swift.struct/noSuchKey`` when there is no object at `key`.
    public func get(key: String, range: Range<Int64>? = nil) async throws(S3Error) -> [UInt8] {
        Array(try await getBuffer(key: key, range: range).readableBytesView)
    }

    /// ``get(key:range:)`` without copying the bytes out of the buffer they arrived in.
    public func getBuffer(key: String, range: Range<Int64>? = nil) async throws(S3Error) -> ByteBuffer {
        var headers: [(name: String, value: String)] = []
        if let range {
            guard range.lowerBound >= 0, !range.isEmpty else {
                throw S3Error(.invalidArgument, "the byte range \(range) of object \"\(key)\" is empty or negative")
            }
            headers.append(("range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)"))
        }
        let what = "read object \"\(key)\""
        let response = try await send(.GET, key: key, headers: headers, what: what)
        try check(response, what, key: key)
        var body = response.body
        if let range, response.status == 200 {
            // A gateway that ignores Range sends the whole object: cut the range out of it.
            let start = Int(clamping: range.lowerBound)
            let count = max(0, min(body.readableBytes - start, Int(clamping: range.count)))
            body = body.getSlice(at: body.readerIndex + min(start, body.readableBytes), length: count) ?? ByteBuffer()
        }
        return body
    }

    /// The object's size and ETag, or nil when there is no object at `key`.
    public func head(key: String) async throws(S3Error) -> S3Object? {
        let what = "look up object \"\(key)\""
        let response = try await send(.HEAD, key: key, what: what)
        if response.status == 404 { return nil }
        try check(response, what, key: key)
        guard let size = response.headers.first(name: "content-length").flatMap({ Int64($0) }) else {
            throw S3Error(.invalidResponse, "\(configuration.origin) answered HEAD of \"\(key)\" without a Content-Length")
        }
        return S3Object(key: key, size: size, etag: response.headers.first(name: "etag").map(S3Object.unquote))
    }

    /// Deletes the object at `key`; deleting a key that does not exist is no error (S3 answers 204 to both).
    public func delete(key: String) async throws(S3Error) {
        let what = "delete object \"\(key)\""
        let response = try await send(.DELETE, key: key, what: what)
        if response.status == 404 && S3ErrorBody(xml: response.bodyBytes)?.code == "NoSuchKey" { return }
        try check(response, what, key: key)
    }

    /// Deletes `keys` with multi-object delete requests (1000 keys each); returns the keys the gateway did not delete.
    ///
    /// Keys that do not exist count as deleted.
    public func deleteObjects(keys: [String]) async throws(S3Error) -> [S3DeleteFailure] {
        var failed: [S3DeleteFailure] = []
        var start = 0
        while start < keys.count {
            let batch = keys[start..<min(start + 1000, keys.count)]
            start += batch.count
            // Quiet: the answer lists only the failures, not every deleted key.
            var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>"
            var fullKeys: [String: String] = [:]
            for key in batch {
                let full = try fullKey(key)
                fullKeys[full] = key
                xml += "<Object><Key>\(Self.escapeXML(full))</Key></Object>"
            }
            xml += "</Delete>"
            let body = Array(xml.utf8)
            // S3 requires Content-MD5 on this request, whatever the signature already covers.
            let md5 = Data(Insecure.MD5.hash(data: body)).base64EncodedString()
            let what = "delete \(batch.count) objects"
            let response = try await send(
                .POST, query: [("delete", "")], headers: [("content-md5", md5), ("content-type", "application/xml")],
                body: ByteBuffer(bytes: body), what: what)
            try check(response, what)
            for failure in try S3DeleteResult(xml: response.bodyBytes).failed {
                var failure = failure
                failure.key = fullKeys[failure.key] ?? failure.key
                failed.append(failure)
            }
        }
        return failed
    }

    static func escapeXML(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }
}
