import BulwarkCatalog
import BulwarkCore
import BulwarkStore

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
            default: return nil
            }
        default:
            return nil
        }
    }
}
