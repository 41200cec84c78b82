/// Decodes a stored enum raw value, reporting a value from a newer version as such.
func stored<Value: RawRepresentable<String>>(_ raw: String, as _: Value.Type) throws -> Value {
    guard let value = Value(rawValue: raw) else {
        throw CatalogError(
            .corrupt, "the catalog holds '\(raw)', which this bulwarkd does not know as a \(Value.self); upgrade bulwarkd")
    }
    return value
}
