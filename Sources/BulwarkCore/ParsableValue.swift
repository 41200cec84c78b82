import Foundation

/// A value with one text form, used alike on the command line, in JSON and in the catalog.
///
/// Encoding the text form keeps stored policies readable and lets one parser guard every way in: a value read back
/// from the catalog passes the same rules as one typed by an admin.
public protocol ParsableValue: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    /// What the value is for in error messages (`--sync-frequency`).
    static var field: String { get }
    /// Parses the text form, or says which rule the text breaks.
    init(parsing text: String) throws(ValidationError)
}

extension ParsableValue {
    public init?(_ description: String) {
        guard let value = try? Self(parsing: description) else { return nil }
        self = value
    }

    public init(from decoder: any Decoder) throws {
        try self.init(textFrom: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        try encodeText(to: encoder)
    }

    /// Decodes the text form. Enums with raw values call this from their own `init(from:)`: for them the compiler
    /// would otherwise synthesize a case-keyed coding instead of using the text form.
    public init(textFrom decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    /// Encodes the text form; see ``init(textFrom:)``.
    public func encodeText(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Parses a comma-separated list such as `20:00,08:00`, refusing empty items and repeats.
func parseList<Value: ParsableValue>(
    _ text: String, field: String, of _: Value.Type, fix: String
) throws(ValidationError) -> [Value] {
    var values: [Value] = []
    for item in text.split(separator: ",", omittingEmptySubsequences: false) {
        let trimmed = item.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw ValidationError(field: field, value: text, rule: "has an empty item", fix: fix)
        }
        let value: Value
        do {
            value = try Value(parsing: trimmed)
        } catch {
            throw ValidationError(field: field, value: text, rule: "item '\(trimmed)': \(error.rule)", fix: fix)
        }
        guard !values.contains(value) else {
            throw ValidationError(field: field, value: text, rule: "lists '\(trimmed)' twice", fix: fix)
        }
        values.append(value)
    }
    return values
}
