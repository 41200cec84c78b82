/// The exports one server offers, by name. The empty name (what a client asks for when its URI names none) is
/// the first export.
public struct NBDExports: Sendable {
    public let names: [String]
    private let sources: [String: any NBDExportSource]

    /// `exports` in the order listings show them; names must be unique and non-empty.
    public init(_ exports: [(name: String, source: any NBDExportSource)]) throws(NBDServerError) {
        var sources: [String: any NBDExportSource] = [:]
        for (name, source) in exports {
            guard !name.isEmpty, name.utf8.count <= 4096 else {
                throw NBDServerError("an export needs a name of 1 to 4096 bytes")
            }
            guard sources.updateValue(source, forKey: name) == nil else {
                throw NBDServerError("export '\(name)' is named twice; name each export once")
            }
        }
        guard !sources.isEmpty else { throw NBDServerError("a server needs at least one export") }
        self.names = exports.map(\.name)
        self.sources = sources
    }

    func source(named name: String) -> (any NBDExportSource)? { sources[resolvedName(name)] }

    func resolvedName(_ name: String) -> String { name.isEmpty ? names[0] : name }
}

/// An NBD server could not be set up.
public struct NBDServerError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
