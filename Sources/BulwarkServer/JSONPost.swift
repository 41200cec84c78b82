import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat

/// Posts `value` as JSON (dates in ISO 8601, as the API writes them) to a receiver an admin configured: the alert
/// webhook, a recovery's `--notify` URL. A receiver that fails or answers other than 2xx is logged as `what`, not
/// retried: these are notices, and the job or alert they announce is in the catalog either way.
func postJSON(_ value: some Encodable, to url: URL, what: String, logger: Logger) async {
    do {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        request.body = .bytes(ByteBuffer(data: try encoder.encode(value)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        if !(200..<300).contains(response.status.code) {
            logger.warning("\(url) answered \(response.status) for \(what)")
        }
    } catch {
        logger.warning("cannot post \(what) to \(url): \(error)")
    }
}
