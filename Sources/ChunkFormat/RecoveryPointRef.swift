public import BulwarkCore
public import Foundation

/// Where a recovery point lives in a datastore: its VM's UUID and its own id.
public struct RecoveryPointRef: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var vm: UUID
    public var point: RecoveryPointID

    public init(vm: UUID, point: RecoveryPointID) {
        self.vm = vm
        self.point = point
    }

    /// `<vm uuid>/<point id>`, the point's folder relative to the datastore.
    public var description: String { "\(vm.uuidString.lowercased())/\(point)" }

    public static func < (lhs: RecoveryPointRef, rhs: RecoveryPointRef) -> Bool {
        (lhs.vm.uuidString.lowercased(), lhs.point) < (rhs.vm.uuidString.lowercased(), rhs.point)
    }
}
