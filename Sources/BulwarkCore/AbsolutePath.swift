/// An absolute file system path in canonical text form: no `.` or empty components, no trailing slash.
///
/// Built without touching the file system (this module does no I/O): callers resolve symbolic links first
/// (`realpath`) so two spellings of one folder compare equal. `..` is refused rather than resolved, because
/// resolving it by text is wrong when a component is a symbolic link.
public struct AbsolutePath: ParsableValue, Comparable {
    public static let field = "path"

    /// The path, e.g. `/srv/backup`; `/` for the root.
    public let path: String

    public init(parsing text: String) throws(ValidationError) {
        try self.init(parsing: text, field: Self.field)
    }

    public init(parsing text: String, field: String) throws(ValidationError) {
        guard text.hasPrefix("/") else {
            throw ValidationError(
                field: field, value: text, rule: "must be an absolute path", fix: "start the path with /")
        }
        guard !text.contains("\0") else {
            throw ValidationError(field: field, value: text, rule: "must not contain NUL", fix: "remove it")
        }
        let components = text.split(separator: "/").filter { $0 != "." }
        guard !components.contains("..") else {
            throw ValidationError(
                field: field, value: text, rule: "must not contain '..'", fix: "give the resolved path")
        }
        path = "/" + components.joined(separator: "/")
    }

    public var components: [Substring] { path.split(separator: "/") }

    /// True when `other` is this path or lies below it.
    public func contains(_ other: AbsolutePath) -> Bool {
        let mine = components
        let theirs = other.components
        return theirs.count >= mine.count && Array(theirs.prefix(mine.count)) == mine
    }

    public var description: String { path }

    public static func < (lhs: AbsolutePath, rhs: AbsolutePath) -> Bool { lhs.path < rhs.path }
}
