import BulwarkCore

extension ResourceName {
    /// A name read back from the catalog, which only ever stores valid names.
    init(stored: String) throws {
        do {
            self = try ResourceName(stored)
        } catch {
            throw CatalogError(.corrupt, "the catalog holds an invalid name '\(stored)'; restore it from a backup")
        }
    }
}
