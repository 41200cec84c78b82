import AsyncHTTPClient
import BulwarkCatalog
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat

/// Posts an ended job as JSON (the `Job` object of the API) to the URL a recovery's `--notify` named; a receiver
/// that fails is logged, not retried.
enum JobNotifier {
    static func post(_ job: JobInfo, to url: URL?, logger: Logger) async {
        guard let url else { return }
        do {
            var request = HTTPClientRequest(url: url.absoluteString)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            request.body = .bytes(ByteBuffer(data: try encoder.encode(OperationRoutes.view(job))))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            if !(200..<300).contains(response.status.code) {
                logger.warning("the --notify URL answered \(response.status) for job \(job.id)")
            }
        } catch {
            logger.warning("cannot post job \(job.id) to the --notify URL \(url): \(error)")
        }
    }
}
