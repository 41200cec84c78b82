import Foundation

/// What a parent asks `bulwark-guest-reader` for: one request, one answer, in order.
public enum GuestReaderRequest: Codable, Sendable, Hashable {
    /// The entries of a folder (``GuestTree/list(_:)``): answered with one `answer` frame.
    case list(String)
    /// One entry: answered with one `answer` frame.
    case entry(String)
    /// A file's content: answered with `piece` frames and an `end` frame.
    case read(String)
}

/// A failure the helper reports instead of an answer.
public struct GuestReaderFailure: Codable, Sendable, Hashable {
    public var code: String
    public var message: String

    public init(_ error: GuestFilesError) {
        code = error.code.rawValue
        message = error.message
    }
}

/// The frames between a parent (bulwarkd, or the agent) and `bulwark-guest-reader` over the helper's stdin and
/// stdout: a kind byte, a 4-byte big-endian length and that many bytes. Requests and answers are JSON; file
/// content goes as raw pieces.
///
/// The helper parses guest data and may be under a guest's control: everything it sends is checked here before
/// the parent uses it (frame lengths, entry counts, names, link targets, message lengths).
public enum GuestReaderWire {
    public enum Kind: UInt8, Sendable {
        case request = 0x51  // Q
        case answer = 0x41  // A
        case piece = 0x44  // D
        case end = 0x45  // E
        case failure = 0x46  // F

        /// The longest payload a frame of this kind may carry.
        public var limit: Int {
            switch self {
            case .request: GuestReaderWire.maximumRequest
            case .answer: GuestReaderWire.maximumAnswer
            case .piece: GuestReaderWire.maximumPiece
            case .end: 0
            case .failure: GuestReaderWire.maximumMessage * 2
            }
        }
    }

    public static let headerSize = 5
    /// A request carries one path: guest paths are short.
    public static let maximumRequest = 64 << 10
    /// A folder of a few hundred thousand entries fits; a listing larger than this is refused as hostile.
    public static let maximumAnswer = 64 << 20
    /// File content goes in pieces of at most this many bytes.
    public static let maximumPiece = 1 << 20
    /// Error messages are cut to this many bytes.
    public static let maximumMessage = 4096
    /// ext2/3/4, XFS and NTFS names are at most 255 bytes; link targets at most a page.
    public static let maximumName = 255 * 4
    public static let maximumTarget = 4095

    /// The header of a frame of `kind` carrying `length` bytes.
    public static func header(_ kind: Kind, length: Int) -> [UInt8] {
        let length = UInt32(length)
        return [kind.rawValue, UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
    }

    /// The kind and payload length a header says, refused when the kind is unknown or the length over its limit.
    public static func parseHeader(_ bytes: [UInt8]) throws(GuestFilesError) -> (Kind, Int) {
        guard bytes.count == headerSize, let kind = Kind(rawValue: bytes[0]) else {
            throw GuestFilesError(.corrupt, "the guest file reader sent a frame of unknown kind \(bytes.first.map { String($0) } ?? "none")")
        }
        let length = Int(bytes[1]) << 24 | Int(bytes[2]) << 16 | Int(bytes[3]) << 8 | Int(bytes[4])
        guard length <= kind.limit else {
            throw GuestFilesError(.corrupt, "the guest file reader sent a \(kind) frame of \(length) bytes, over the \(kind.limit) allowed")
        }
        return (kind, length)
    }

    /// An entry the helper sent, refused unless it could be a real one: a plain name, a bounded link target.
    public static func checked(_ entry: GuestEntry) throws(GuestFilesError) -> GuestEntry {
        let name = entry.name
        guard !name.isEmpty, name.utf8.count <= maximumName, name != ".", name != "..", !name.contains("/"),
            !name.contains("\0")
        else {
            throw GuestFilesError(.corrupt, "the guest file reader sent an entry named '\(name.prefix(80))', which no file system holds; the guest's file system is damaged or hostile")
        }
        if let target = entry.target {
            guard !target.isEmpty, target.utf8.count <= maximumTarget, !target.contains("\0") else {
                throw GuestFilesError(.corrupt, "the guest file reader sent a link \(name) with a target of \(target.utf8.count) bytes; the guest's file system is damaged or hostile")
            }
        }
        for text in [entry.fileSystem, entry.label].compactMap({ $0 }) where text.utf8.count > maximumName || text.contains("\0") {
            throw GuestFilesError(.corrupt, "the guest file reader sent a file system \(name) with a type or label of \(text.utf8.count) bytes")
        }
        return entry
    }

    /// The entries of an `answer` to a `list`.
    public static func entries(_ payload: [UInt8]) throws(GuestFilesError) -> [GuestEntry] {
        let entries: [GuestEntry]
        do {
            entries = try JSONDecoder().decode([GuestEntry].self, from: Data(payload))
        } catch {
            throw GuestFilesError(.corrupt, "the guest file reader sent a listing that is not one: \(error)")
        }
        return try entries.map { entry throws(GuestFilesError) in try checked(entry) }
    }

    /// The entry of an `answer` to an `entry`.
    public static func entry(_ payload: [UInt8]) throws(GuestFilesError) -> GuestEntry {
        do {
            return try checked(try JSONDecoder().decode(GuestEntry.self, from: Data(payload)))
        } catch let error as GuestFilesError {
            throw error
        } catch {
            throw GuestFilesError(.corrupt, "the guest file reader sent an entry that is not one: \(error)")
        }
    }

    /// The error a `failure` frame reports, its message cut short and its code one Bulwark knows.
    public static func failure(_ payload: [UInt8]) -> GuestFilesError {
        guard let failure = try? JSONDecoder().decode(GuestReaderFailure.self, from: Data(payload)) else {
            return GuestFilesError(.corrupt, "the guest file reader failed and sent no readable reason")
        }
        let known: [GuestFilesError.Code] = [.notFound, .unsupported, .corrupt, .invalid]
        let code = known.first { $0.rawValue == failure.code } ?? .corrupt
        let message = String(failure.message.unicodeScalars.filter { $0 != "\0" }.prefix(maximumMessage).map(Character.init))
        return GuestFilesError(code, message)
    }

    /// A request as its payload.
    public static func encode(_ request: GuestReaderRequest) -> [UInt8] {
        // Encoding a path cannot fail.
        [UInt8]((try? JSONEncoder().encode(request)) ?? Data())
    }

    /// A request's payload as the helper reads it.
    public static func request(_ payload: [UInt8]) throws(GuestFilesError) -> GuestReaderRequest {
        do {
            return try JSONDecoder().decode(GuestReaderRequest.self, from: Data(payload))
        } catch {
            throw GuestFilesError(.invalid, "not a guest file reader request: \(error)")
        }
    }
}
