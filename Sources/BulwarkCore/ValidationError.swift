/// A value given by a user or a peer that breaks one of Bulwark's rules.
///
/// The message names the field, the value, the rule it broke and how to fix it, so the CLI and the API can show it
/// as it is.
public struct ValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What the value was for, e.g. `group name`, `--retention-days`.
    public var field: String
    /// The value as it was given.
    public var value: String
    /// The rule the value broke, e.g. `must start with a letter`.
    public var rule: String
    /// How to fix it, e.g. `use 2–50 letters, digits or hyphens`.
    public var fix: String

    public init(field: String, value: String, rule: String, fix: String) {
        self.field = field
        self.value = value
        self.rule = rule
        self.fix = fix
    }

    public var description: String { "invalid \(field) '\(value)': \(rule); \(fix)" }
}
