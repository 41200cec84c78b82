import Foundation

extension UUID {
    /// Lower-case text, as libvirt writes UUIDs and as the catalog stores them.
    var catalogText: String { uuidString.lowercased() }
}

extension UUID {
    /// A UUID read back from the catalog.
    init(stored: String) throws {
        guard let uuid = UUID(uuidString: stored) else {
            throw CatalogError(.corrupt, "the catalog holds an invalid UUID '\(stored)'; restore it from a backup")
        }
        self = uuid
    }
}
