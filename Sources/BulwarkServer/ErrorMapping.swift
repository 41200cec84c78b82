import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import S3

extension APIError {
    /// The API answer for an error from the catalog, the datastore or validation; nil for anything else.
    init?(mapping error: any Error) {
        switch error {
        case let error as ValidationError:
            self = .invalid(error.description)
        case let error as ServerError where error.code == .invalidRequest:
            self = .invalid(error.message)
        case let error as CatalogError:
            switch error.code {
            case .notFound: self = .notFound(error.message)
            case .alreadyExists, .conflict: self = .conflict(error.message)
            case .cancelled: self = .cancelled(error.message)
            case .invalid, .ambiguous: self = .invalid(error.message)
            case .unauthorized: self = .unauthorized
            case .tokenExpired, .tokenUsed, .tokenWrongHost: self = APIError(.forbidden, code: error.code.rawValue, message: error.message)
            default: return nil
            }
        case let error as DatastoreError:
            switch error.code {
            case .alreadyExists, .notEmpty, .notADirectory, .notWritable, .nestedDatastore, .invalidChunkSize,
                .invalidArgument:
                self = .invalid(error.message)
            case .pointNotFound, .diskNotFound:
                self = .notFound(error.message)
            case .noSpace:
                self = APIError(.init(code: 507, reasonPhrase: "Insufficient Storage"), code: "datastore-full", message: error.message)
            case .backendUnavailable:
                // An agent retries a 503 and fails its task as transient: the bucket may be back in a minute.
                self = APIError(.serviceUnavailable, code: "datastore-unavailable", message: error.message)
            case .backendRefused:
                self = APIError(.badGateway, code: "datastore-refused", message: error.message)
            default: return nil
            }
        case let error as S3Error:
            // Only the creation of a datastore talks to a bucket directly: what it refuses is a setting to fix.
            self = APIError(.badRequest, code: "s3-\(error.code.rawValue)", message: error.message)
        default:
            return nil
        }
    }
}
