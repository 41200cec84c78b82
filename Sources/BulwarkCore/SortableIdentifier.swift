public import Foundation

/// An identifier that sorts by the time it was made: a UUID of version 7 (RFC 9562).
///
/// Version 7 puts the Unix time in milliseconds into the first 48 bits, so the lower-case text form sorts the way
/// the ids were created, which keeps "newest first" listings and catalog indexes simple. The rest is random, so ids
/// made on different machines (server, agents) never need coordinating. Ids are written as lower-case UUID text in
/// JSON, in the catalog and in datastore paths.
public protocol SortableIdentifier: Hashable, Comparable, Sendable, Codable, CustomStringConvertible,
    LosslessStringConvertible
{
    /// What the id names, for error messages (`job id`).
    static var field: String { get }
    var uuid: UUID { get }
    init(uuid: UUID)
}

extension SortableIdentifier {
    /// A fresh id for `date`, with random bits from `generator`.
    public static func generate(at date: Date = Date(), using generator: inout some RandomNumberGenerator) -> Self {
        let milliseconds = UInt64(max(0, (date.timeIntervalSince1970 * 1000).rounded(.down)))
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - index))) }
        let random = (generator.next() as UInt64, generator.next() as UInt64)
        for index in 6..<16 {
            let word = index < 11 ? random.0 : random.1
            bytes[index] = UInt8(truncatingIfNeeded: word >> (8 * (index % 8)))
        }
        bytes[6] = 0x70 | (bytes[6] & 0x0f)  // version 7
        bytes[8] = 0x80 | (bytes[8] & 0x3f)  // RFC 9562 variant
        let uuid = UUID(uuid: (
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
        return Self(uuid: uuid)
    }

    /// A fresh id for `date`, with random bits from the system's generator.
    public static func generate(at date: Date = Date()) -> Self {
        var generator = SystemRandomNumberGenerator()
        return generate(at: date, using: &generator)
    }

    /// Parses the text form; any UUID is accepted (ids written by older tools need not be version 7).
    public init(parsing text: String) throws(ValidationError) {
        guard let uuid = UUID(uuidString: text) else {
            throw ValidationError(
                field: Self.field, value: text, rule: "must be a UUID such as 0190f5c2-7b1e-7c3a-9d4e-2f6a8b0c1d2e",
                fix: "copy the id from the listing that showed it")
        }
        self.init(uuid: uuid)
    }

    public init?(_ description: String) {
        guard let id = try? Self(parsing: description) else { return nil }
        self = id
    }

    /// The time in the id, to the millisecond (meaningful for version 7 ids only).
    public var timestamp: Date {
        let bytes = uuid.uuid
        let milliseconds = [bytes.0, bytes.1, bytes.2, bytes.3, bytes.4, bytes.5].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    public var description: String { uuid.uuidString.lowercased() }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.description < rhs.description }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
