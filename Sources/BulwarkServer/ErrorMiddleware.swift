import BulwarkAPI
import BulwarkCatalog
import Crypto
import Foundation
import Hummingbird
import Logging
import NIOCore

/// Turns every error into a JSON error answer, so clients never see an HTML page or an empty body, and no bad
/// request ends as a 5xx.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = BulwarkRequestContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            let code = error.status == .notFound ? "not-found" : "http-\(error.status.code)"
            let message =
                error.status == .notFound
                ? "no API endpoint \(request.method) \(request.uri.path); see docs/openapi.yaml"
                : (error.body ?? error.status.reasonPhrase)
            return try APIError(error.status, code: code, message: message).response(from: request, context: context)
        } catch is NIOTooManyBytesError {
            return try APIError(
                .contentTooLarge, code: "too-large",
                message: "the request body is larger than \(context.maxUploadSize) bytes, the most this endpoint takes")
                .response(from: request, context: context)
        } catch let error as DecodingError {
            return try APIError.invalid("the request body is not what this endpoint takes: \(Self.describe(error))")
                .response(from: request, context: context)
        } catch {
            if let mapped = APIError(mapping: error) { return try mapped.response(from: request, context: context) }
            context.logger.error("request failed: \(error)")
            return try APIError(.internalServerError, code: "internal", message: "the server failed: \(error)")
                .response(from: request, context: context)
        }
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        case .dataCorrupted(let context):
            context.codingPath.isEmpty
                ? "not valid JSON" : "bad value at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        @unknown default: "undecodable"
        }
    }
}

/// Lets a request through only with a known admin token: `Authorization: Bearer TOKEN`.
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = BulwarkRequestContext
    let catalog: Catalog

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            let digest = TokenDigest(SHA256.hash(data: Data(header.dropFirst("Bearer ".count).utf8)))
        else { throw APIError.unauthorized }
        do {
            _ = try await catalog.verifyAdminToken(digest)
        } catch let error as CatalogError where error.code == .unauthorized {
            throw APIError.unauthorized
        }
        return try await next(request, context)
    }
}
