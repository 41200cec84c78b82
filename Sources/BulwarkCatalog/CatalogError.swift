/// An error from the catalog: what went wrong, about which value, and how to fix it.
///
/// The ``Code`` is an open set, so later versions can add codes and callers (the API's error mapping) can still
/// match the ones they know.
public struct CatalogError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure it is; the API maps codes to HTTP statuses.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The named thing does not exist.
        public static let notFound = Code(rawValue: "notFound")
        /// A thing with that name or key already exists.
        public static let alreadyExists = Code(rawValue: "alreadyExists")
        /// The change clashes with other data (a datastore in use, a VM in another group).
        public static let conflict = Code(rawValue: "conflict")
        /// The task was cancelled by an admin: what it asked for is refused, and it is to finish as cancelled.
        public static let cancelled = Code(rawValue: "cancelled")
        /// The value breaks a rule.
        public static let invalid = Code(rawValue: "invalid")
        /// A name matches more than one thing.
        public static let ambiguous = Code(rawValue: "ambiguous")
        /// The token is not known (a wrong admin token, an enrollment token never issued).
        public static let unauthorized = Code(rawValue: "unauthorized")
        /// The enrollment token's time is over.
        public static let tokenExpired = Code(rawValue: "tokenExpired")
        /// The enrollment token was already used: tokens are single use.
        public static let tokenUsed = Code(rawValue: "tokenUsed")
        /// The enrollment token was issued for another host, or may not replace an enrolled host's certificate.
        public static let tokenWrongHost = Code(rawValue: "tokenWrongHost")
        /// The catalog file was written by a newer bulwarkd.
        public static let schemaTooNew = Code(rawValue: "schemaTooNew")
        /// The catalog's own files are missing or broken (a migration, the schema resources).
        public static let corrupt = Code(rawValue: "corrupt")
        /// SQLite failed (disk full, I/O error, locked too long).
        public static let storage = Code(rawValue: "storage")

        public var description: String { rawValue }
    }

    public var code: Code
    /// A sentence for the admin that names the value and says how to fix it.
    public var message: String
    /// For ``Code-swift.struct/ambiguous`` and some ``Code-swift.struct/notFound``: the names to choose from.
    public var candidates: [String]

    public init(_ code: Code, _ message: String, candidates: [String] = []) {
        self.code = code
        self.message = message
        self.candidates = candidates
    }

    public var description: String { message }
}
