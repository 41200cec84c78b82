/// Whether a sync freezes the guest's filesystems through the QEMU guest agent.
public enum QuiesceMode: String, ParsableValue, CaseIterable {
    /// Freeze when the guest agent answers (application-consistent), otherwise take a crash-consistent point.
    case auto
    /// Fail the sync when the guest cannot be frozen, rather than take a crash-consistent point.
    case required
    /// Never freeze: every point is crash-consistent.
    case never

    public static let field = "--quiesce"

    public init(parsing text: String) throws(ValidationError) {
        guard let mode = QuiesceMode(rawValue: text.lowercased()) else {
            throw ValidationError(
                field: Self.field, value: text, rule: "must be one of auto, required, never",
                fix: "auto freezes when the guest agent answers; required fails without it; never does not freeze")
        }
        self = mode
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws { try self.init(textFrom: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodeText(to: encoder) }
}
