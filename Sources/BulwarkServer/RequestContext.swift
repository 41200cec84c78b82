public import Hummingbird
public import Foundation
import NIOCore

/// The request context of Bulwark's API: ISO 8601 dates on the wire, small request bodies.
public struct BulwarkRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connection the request came on: its TLS handler holds the client certificate of an agent.
    let channel: any Channel
    /// The enrolled host of the agent whose certificate ``AgentAuthMiddleware`` accepted; nil on other routes.
    var agentHost: String?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    /// JSON bodies decoded through the context (admin calls, small agent reports) stay this small; the agent's
    /// chunk uploads and commits collect their bodies with limits of their own.
    public var maxUploadSize: Int { 1 << 20 }

    public var requestDecoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    public var responseEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
