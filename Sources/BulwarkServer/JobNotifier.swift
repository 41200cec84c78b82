import BulwarkCatalog
import Foundation
import Logging

/// Posts an ended job as JSON (the `Job` object of the API) to the URL a recovery's `--notify` named.
enum JobNotifier {
    static func post(_ job: JobInfo, to url: URL?, logger: Logger) async {
        guard let url else { return }
        await postJSON(OperationRoutes.view(job), to: url, what: "job \(job.id) (--notify)", logger: logger)
    }
}
