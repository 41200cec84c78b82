public import BulwarkAPI
public import Hummingbird

/// An error answer of the API: an HTTP status and the JSON body every client can read.
public struct APIError: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var body: APIErrorBody

    public init(_ status: HTTPResponse.Status, code: String, message: String) {
        self.status = status
        self.body = APIErrorBody(code: code, message: message)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try context.responseEncoder.encode(body, from: request, context: context)
        response.status = status
        return response
    }

    public var description: String { "\(status.code) \(body.error.code): \(body.error.message)" }

    static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not-found", message: message) }
    static func invalid(_ message: String) -> APIError { APIError(.badRequest, code: "invalid-value", message: message) }
    static func conflict(_ message: String) -> APIError { APIError(.conflict, code: "conflict", message: message) }
    /// A task's call refused because an admin cancelled the task; its agent finishes it as cancelled.
    static func cancelled(_ message: String) -> APIError { APIError(.conflict, code: "cancelled", message: message) }
    static let unauthorized = APIError(
        .unauthorized, code: "unauthorized",
        message: "missing or wrong admin token: pass --token, set BULWARK_TOKEN, or read it from the server's data directory")
    static func notAvailable(_ what: String, issue: Int) -> APIError {
        // A 4xx, not 501: the server is not failing, it does not offer this yet; clients read the code.
        APIError(.notFound, code: "not-available", message: "\(what) is not available yet (arrives with issue #\(issue))")
    }
}

