/// The numbers of the NBD protocol (the fixed newstyle handshake and the transmission phase) that a read-only
/// server needs, as the protocol document names them. No I/O here.
enum NBDWire {
    static let initialMagic: UInt64 = 0x4e42_444d_4147_4943  // "NBDMAGIC"
    static let optionMagic: UInt64 = 0x4948_4156_454f_5054  // "IHAVEOPT"
    static let optionReplyMagic: UInt64 = 0x0003_e889_0455_65a9
    static let requestMagic: UInt32 = 0x2560_9513
    static let simpleReplyMagic: UInt32 = 0x6744_6698
    static let structuredReplyMagic: UInt32 = 0x668e_33ef

    // Handshake flags (server) and client flags.
    static let flagFixedNewstyle: UInt16 = 1 << 0
    static let flagNoZeroes: UInt16 = 1 << 1
    static let clientFlagFixedNewstyle: UInt32 = 1 << 0
    static let clientFlagNoZeroes: UInt32 = 1 << 1

    // Transmission flags.
    static let transmissionHasFlags: UInt16 = 1 << 0
    static let transmissionReadOnly: UInt16 = 1 << 1
    static let transmissionSendFlush: UInt16 = 1 << 2
    static let transmissionCanMultiConn: UInt16 = 1 << 8
    static let transmissionSendCache: UInt16 = 1 << 10

    enum Option: UInt32 {
        case exportName = 1
        case abort = 2
        case list = 3
        case startTLS = 5
        case info = 6
        case go = 7
        case structuredReply = 8
        case listMetaContext = 9
        case setMetaContext = 10
    }

    enum Reply: UInt32 {
        case ack = 1
        case server = 2
        case info = 3
        case metaContext = 4
        case errorUnsupported = 0x8000_0001
        case errorPolicy = 0x8000_0002
        case errorInvalid = 0x8000_0003
        case errorUnknown = 0x8000_0006
        case errorTooBig = 0x8000_0009
    }

    static let infoExport: UInt16 = 0
    static let infoName: UInt16 = 1
    static let infoDescription: UInt16 = 2
    static let infoBlockSize: UInt16 = 3

    enum Command: UInt16 {
        case read = 0
        case write = 1
        case disconnect = 2
        case flush = 3
        case trim = 4
        case cache = 5
        case writeZeroes = 6
        case blockStatus = 7
    }

    static let commandFlagReqOne: UInt16 = 1 << 3

    // Structured reply chunks.
    static let replyFlagDone: UInt16 = 1 << 0
    static let replyTypeNone: UInt16 = 0
    static let replyTypeOffsetData: UInt16 = 1
    static let replyTypeOffsetHole: UInt16 = 2
    static let replyTypeBlockStatus: UInt16 = 5
    static let replyTypeError: UInt16 = (1 << 15) + 1

    // base:allocation states.
    static let stateHole: UInt32 = 1 << 0
    static let stateZero: UInt32 = 1 << 1

    // Errors, as the protocol numbers them (Linux's errno values).
    static let errorPermission: UInt32 = 1
    static let errorIO: UInt32 = 5
    static let errorInvalid: UInt32 = 22
    static let errorOverflow: UInt32 = 75
    static let errorNotSupported: UInt32 = 95
    static let errorShutdown: UInt32 = 108

    static let baseAllocation = "base:allocation"
    /// The one meta context served, and its id.
    static let baseAllocationID: UInt32 = 1

    /// The largest request served; clients learn it from NBD_INFO_BLOCK_SIZE.
    static let maximumRequest: UInt32 = 32 << 20
    /// The longest option a client may send (names, context queries): anything larger is hostile.
    static let maximumOption: UInt32 = 64 << 10
}

/// Big-endian bytes for the wire.
struct NBDBytes {
    var bytes: [UInt8] = []

    mutating func u16(_ value: UInt16) { bytes.append(contentsOf: [UInt8(value >> 8), UInt8(value & 0xff)]) }
    mutating func u32(_ value: UInt32) { for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8((value >> UInt32(shift)) & 0xff)) } }
    mutating func u64(_ value: UInt64) { for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((value >> UInt64(shift)) & 0xff)) } }
    mutating func string(_ text: String) { bytes.append(contentsOf: Array(text.utf8)) }
}

/// Reads big-endian fields from received bytes; a short buffer is a protocol error.
struct NBDReader {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - position }

    mutating func u16() throws(NBDProtocolError) -> UInt16 { UInt16(try take(2)) }
    mutating func u32() throws(NBDProtocolError) -> UInt32 { UInt32(try take(4)) }
    mutating func u64() throws(NBDProtocolError) -> UInt64 { try take(8) }

    mutating func data(_ count: Int) throws(NBDProtocolError) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw NBDProtocolError("a field runs past the end of its option") }
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    mutating func string(_ count: Int) throws(NBDProtocolError) -> String {
        let raw = try data(count)
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw NBDProtocolError("a name is not UTF-8")
        }
        return text
    }

    private mutating func take(_ count: Int) throws(NBDProtocolError) -> UInt64 {
        guard remaining >= count else { throw NBDProtocolError("a field runs past the end of its option") }
        var value: UInt64 = 0
        for byte in bytes[position..<position + count] { value = value << 8 | UInt64(byte) }
        position += count
        return value
    }
}

/// The client broke the protocol; the connection is closed.
struct NBDProtocolError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
