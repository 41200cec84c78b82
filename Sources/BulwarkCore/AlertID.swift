public import Foundation

/// An alert's id.
///
/// Sorts by creation time; see ``SortableIdentifier``.
public struct AlertID: SortableIdentifier {
    public static let field = "alert id"
    public let uuid: UUID
    public init(uuid: UUID) { self.uuid = uuid }
}
