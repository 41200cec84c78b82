public import Foundation

/// A job's id.
///
/// Sorts by creation time; see ``SortableIdentifier``.
public struct JobID: SortableIdentifier {
    public static let field = "job id"
    public let uuid: UUID
    public init(uuid: UUID) { self.uuid = uuid }
}
