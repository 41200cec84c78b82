/// The name of a protection group or a datastore.
///
/// The rules are the ones users know from backup vaults: 2–50 characters, starting with a letter, then letters,
/// digits and hyphens only. Only ASCII counts as a letter, so a name is safe in paths, URLs and shells. Names are
/// compared case-insensitively by the catalog (`Gold` and `gold` are the same group), but kept as typed.
public struct ResourceName: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public static let lengthRange = 2...50

    public let rawValue: String

    /// Validates `value`; `field` names what the name is for in the error (`group name`, `datastore name`).
    public init(_ value: String, field: String = "name") throws(ValidationError) {
        func fail(_ rule: String) -> ValidationError {
            ValidationError(
                field: field, value: value, rule: rule,
                fix: "use 2–50 characters: a letter first, then letters, digits or hyphens")
        }
        let characters = Array(value.unicodeScalars)
        guard Self.lengthRange.contains(characters.count) else {
            throw fail("must be 2–50 characters long (it has \(characters.count))")
        }
        guard let first = characters.first, first.isASCIILetter else {
            throw fail("must start with a letter")
        }
        if let bad = characters.first(where: { !($0.isASCIILetter || $0.isASCIIDigit || $0 == "-") }) {
            throw fail("may contain only letters, digits and hyphens (found '\(bad.escaped(asASCII: false))')")
        }
        rawValue = value
    }

    /// Returns nil when `rawValue` breaks a rule; use ``init(_:field:)`` to learn which.
    public init?(rawValue: String) {
        guard let name = try? ResourceName(rawValue) else { return nil }
        self = name
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let string = try container.decode(String.self)
        do {
            self = try ResourceName(string)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public static func < (lhs: ResourceName, rhs: ResourceName) -> Bool {
        lhs.rawValue.lowercased() < rhs.rawValue.lowercased()
    }

    public var description: String { rawValue }
}

extension Unicode.Scalar {
    var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
