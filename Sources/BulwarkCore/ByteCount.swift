/// Sizes as admins type them: `4M`, `64K`, `16MiB`, `1G`, or a plain number of bytes.
///
/// Every unit is binary (K = KiB = 1024 bytes): storage sizes here are powers of two, and accepting `MB` would
/// leave open whether it means 10^6 or 2^20, so decimal spellings are refused with a hint.
public enum ByteCount {
    private static let units: [String: Int64] = [
        "": 1, "b": 1,
        "k": 1 << 10, "kib": 1 << 10,
        "m": 1 << 20, "mib": 1 << 20,
        "g": 1 << 30, "gib": 1 << 30,
        "t": 1 << 40, "tib": 1 << 40,
    ]

    /// Parses `text` into bytes; `field` names the option in errors.
    public static func parse(_ text: String, field: String) throws(ValidationError) -> Int64 {
        let fix = "write a size like 4M, 64K, 16MiB or 1048576 (units are binary: K = 1024 bytes)"
        let trimmed = text.filter { $0 != " " }
        let digits = trimmed.prefix(while: \.isASCIIDigitCharacter)
        let unit = trimmed.dropFirst(digits.count).lowercased()
        guard !digits.isEmpty, let number = Int64(digits) else {
            throw ValidationError(field: field, value: text, rule: "must start with a whole number", fix: fix)
        }
        guard let multiplier = units[unit] else {
            let rule = ["kb", "mb", "gb", "tb"].contains(unit)
                ? "decimal units such as '\(unit.uppercased())' are ambiguous"
                : "has an unknown unit '\(unit)'"
            throw ValidationError(field: field, value: text, rule: rule, fix: fix)
        }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow else {
            throw ValidationError(field: field, value: text, rule: "is too large", fix: fix)
        }
        return bytes
    }

    /// `bytes` in the largest binary unit that divides it, e.g. `4 MiB`, `65536 B` is `64 KiB`.
    public static func format(_ bytes: Int64) -> String {
        for (unit, size) in [("TiB", Int64(1) << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        where bytes != 0 && bytes % size == 0 {
            return "\(bytes / size) \(unit)"
        }
        return "\(bytes) B"
    }

    /// `bytes` rounded for people: `512 B`, `1.5 KiB`, `3.2 GiB`.
    public static func approximate(_ bytes: Int64) -> String {
        for (unit, size) in [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] as [(String, Int64)]
        where abs(bytes) >= size {
            let value = Double(bytes) / Double(size)
            return value >= 100 ? "\(Int64(value.rounded())) \(unit)" : "\((value * 10).rounded() / 10) \(unit)"
        }
        return "\(bytes) B"
    }
}
