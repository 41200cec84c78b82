public import BulwarkCore
public import Foundation
public import GuestFiles

/// How `bulwarkd` runs: where its data lives and where it listens.
public struct ServerConfiguration: Sendable, Hashable {
    public var dataDirectory: String
    public var host: String
    public var port: Int
    /// How often the scheduler looks for due jobs; nil runs no scheduler (syncs only when an admin asks).
    public var schedulerInterval: Duration?
    /// Where each new alert is posted as JSON; nil posts nothing.
    public var alertWebhook: URL?
    /// At most this many agent tasks run at once per host; nil: as many as the agent takes.
    public var maximumJobsPerHost: Int?
    /// At most this many agent tasks run at once per datastore; nil: no limit.
    public var maximumJobsPerDatastore: Int?
    /// How agent tasks that failed for a passing reason are tried again.
    public var retry: RetryPolicy
    /// Verify each new point soon after its commit.
    public var verifyNew: Bool
    /// Verify a point again once its last verify (or its commit) is this old; nil: only on request.
    public var reverifyAfter: TimeSpan?
    /// How guest file systems are read for browsing and item-level copies; nil: the installed helper, with the
    /// default limits.
    public var guestReader: GuestReaderSandbox?
    /// How often a copy of the catalog is written into every datastore (see `CatalogCopies`); nil: never.
    public var catalogCopyInterval: Duration? = .seconds(3600)

    public init(
        dataDirectory: String, host: String = "127.0.0.1", port: Int = 9443, schedulerInterval: Duration? = nil,
        alertWebhook: URL? = nil, maximumJobsPerHost: Int? = nil, maximumJobsPerDatastore: Int? = nil,
        retry: RetryPolicy = .none, verifyNew: Bool = false, reverifyAfter: TimeSpan? = nil
    ) {
        self.dataDirectory = dataDirectory
        self.host = host
        self.port = port
        self.schedulerInterval = schedulerInterval
        self.alertWebhook = alertWebhook
        self.maximumJobsPerHost = maximumJobsPerHost
        self.maximumJobsPerDatastore = maximumJobsPerDatastore
        self.retry = retry
        self.verifyNew = verifyNew
        self.reverifyAfter = reverifyAfter
    }

    /// Parses `--alert-webhook`: an absolute http or https URL with a host.
    public static func parseWebhook(_ text: String) throws -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            url.host?.isEmpty == false
        else {
            throw ServerError(
                .invalidConfiguration,
                "--alert-webhook '\(text)' is not an http or https URL with a host, such as https://chat.example.com/hooks/bulwark")
        }
        return url
    }

    /// Parses `HOST:PORT`, `[IPV6]:PORT` or `:PORT` (all interfaces); port 0 picks a free port.
    public static func parseListen(_ text: String) throws -> (host: String, port: Int) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ServerError(.invalidConfiguration, "--listen '\(text)': write an IPv6 address as [ADDRESS]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ServerError(.invalidConfiguration, "--listen '\(text)' has no port: write HOST:PORT, e.g. 127.0.0.1:9443")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = Int(portText), (0...65_535).contains(port) else {
            throw ServerError(.invalidConfiguration, "--listen '\(text)': the port must be a number from 0 to 65535")
        }
        return (host.isEmpty ? "0.0.0.0" : String(host), port)
    }
}
