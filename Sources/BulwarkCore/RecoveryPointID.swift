public import Foundation

/// A recovery point's id; also the name of its folder in the datastore.
///
/// Sorts by creation time; see ``SortableIdentifier``.
public struct RecoveryPointID: SortableIdentifier {
    public static let field = "recovery point id"
    public let uuid: UUID
    public init(uuid: UUID) { self.uuid = uuid }
}
