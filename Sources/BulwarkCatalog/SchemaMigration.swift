import Foundation

/// One versioned SQL file from `Schema/`, named `NNNN-description.sql`.
struct SchemaMigration: Sendable {
    let version: Int
    let name: String
    let sql: String

    /// The migrations shipped in this module's `Schema` resource folder, in version order.
    ///
    /// Versions must run 1, 2, 3, ... without gaps: a gap means a file went missing from the build, and applying
    /// later files without it would corrupt the schema.
    static func bundled() throws -> [SchemaMigration] {
        guard let folder = Bundle.module.url(forResource: "Schema", withExtension: nil) else {
            throw CatalogError(.corrupt, "the catalog's Schema resources are missing from this build; reinstall bulwarkd")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }
        var migrations: [SchemaMigration] = []
        for name in names {
            guard let version = Int(name.prefix(while: \.isNumber)), version > 0 else {
                throw CatalogError(
                    .corrupt, "schema file \(name) does not start with its version number; name it NNNN-what.sql")
            }
            let sql = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            migrations.append(SchemaMigration(version: version, name: name, sql: sql))
        }
        migrations.sort { $0.version < $1.version }
        for (index, migration) in migrations.enumerated() where migration.version != index + 1 {
            throw CatalogError(
                .corrupt,
                "schema file \(migration.name) should be version \(index + 1); migrations must be numbered 1, 2, 3, ... without gaps or repeats")
        }
        return migrations
    }
}
