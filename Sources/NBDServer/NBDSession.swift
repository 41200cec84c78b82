/// One client connection: the fixed newstyle handshake, then the transmission phase, over a connected stream.
///
/// Read-only: writes, trims and zero-writes are refused with EPERM. Structured replies and the `base:allocation`
/// meta context are offered, so clients (qemu-img, nbdcopy) skip the zeros instead of reading them.
final class NBDSession {
    private let stream: any NBDStream
    private let exports: NBDExports
    private let log: @Sendable (String) -> Void
    private var structured = false
    /// The export `base:allocation` was set for, if any.
    private var metaExport: String?

    init(stream: any NBDStream, exports: NBDExports, log: @escaping @Sendable (String) -> Void) {
        self.stream = stream
        self.exports = exports
        self.log = log
    }

    /// Serves the client until it disconnects or breaks the protocol.
    func run() {
        do {
            guard let (name, export) = try handshake() else { return }
            try transmit(name: name, export)
        } catch let error as NBDStreamClosed {
            _ = error  // the client went away: nothing to report
        } catch {
            log("NBD client dropped: \(error)")
        }
    }

    // MARK: - Handshake

    private func handshake() throws -> (String, any NBDExportSource)? {
        var hello = NBDBytes()
        hello.u64(NBDWire.initialMagic)
        hello.u64(NBDWire.optionMagic)
        hello.u16(NBDWire.flagFixedNewstyle | NBDWire.flagNoZeroes)
        try stream.write(hello.bytes)
        var flags = NBDReader(try stream.read(4))
        let clientFlags = try flags.u32()
        guard clientFlags & NBDWire.clientFlagFixedNewstyle != 0 else {
            throw NBDProtocolError("the client does not speak the fixed newstyle handshake")
        }
        let noZeroes = clientFlags & NBDWire.clientFlagNoZeroes != 0
        while true {
            var header = NBDReader(try stream.read(16))
            guard try header.u64() == NBDWire.optionMagic else { throw NBDProtocolError("an option without its magic") }
            let code = try header.u32()
            let length = try header.u32()
            guard length <= NBDWire.maximumOption else {
                throw NBDProtocolError("an option of \(length) bytes, more than the \(NBDWire.maximumOption) allowed")
            }
            var data = NBDReader(try stream.read(Int(length)))
            guard let option = NBDWire.Option(rawValue: code) else {
                try reply(code, .errorUnsupported, message: "option \(code) is not supported")
                continue
            }
            switch option {
            case .exportName:
                let name = try data.string(Int(length))
                guard let export = exports.source(named: name) else {
                    // EXPORT_NAME has no error reply: closing is the answer.
                    throw NBDProtocolError("the client asked for export '\(name)', which does not exist")
                }
                var answer = NBDBytes()
                answer.u64(export.size)
                answer.u16(Self.transmissionFlags)
                if !noZeroes { answer.bytes.append(contentsOf: [UInt8](repeating: 0, count: 124)) }
                try stream.write(answer.bytes)
                return (exports.resolvedName(name), export)
            case .abort:
                try reply(code, .ack)
                return nil
            case .list:
                guard length == 0 else {
                    try reply(code, .errorInvalid, message: "NBD_OPT_LIST takes no data")
                    continue
                }
                for name in exports.names {
                    var entry = NBDBytes()
                    entry.u32(UInt32(name.utf8.count))
                    entry.string(name)
                    try reply(code, .server, data: entry.bytes)
                }
                try reply(code, .ack)
            case .startTLS:
                try reply(code, .errorPolicy, message: "TLS is not offered on this export; connect over its unix socket")
            case .info, .go:
                if let chosen = try info(option, &data) { return chosen }
            case .structuredReply:
                guard length == 0 else {
                    try reply(code, .errorInvalid, message: "NBD_OPT_STRUCTURED_REPLY takes no data")
                    continue
                }
                structured = true
                try reply(code, .ack)
            case .listMetaContext, .setMetaContext:
                try metaContext(option, &data)
            }
        }
    }

    /// NBD_OPT_INFO and NBD_OPT_GO; returns the export when GO succeeded.
    private func info(_ option: NBDWire.Option, _ data: inout NBDReader) throws -> (String, any NBDExportSource)? {
        let code = option.rawValue
        let nameLength = try data.u32()
        let name = try data.string(Int(nameLength))
        let count = try data.u16()
        var requests: [UInt16] = []
        for _ in 0..<count { requests.append(try data.u16()) }
        guard data.remaining == 0 else {
            try reply(code, .errorInvalid, message: "the option is longer than its fields")
            return nil
        }
        guard let export = exports.source(named: name) else {
            try reply(code, .errorUnknown, message: "there is no export '\(name)'; exports: \(exports.names.joined(separator: ", "))")
            return nil
        }
        var exportInfo = NBDBytes()
        exportInfo.u16(NBDWire.infoExport)
        exportInfo.u64(export.size)
        exportInfo.u16(Self.transmissionFlags)
        try reply(code, .info, data: exportInfo.bytes)
        if requests.contains(NBDWire.infoName) {
            var named = NBDBytes()
            named.u16(NBDWire.infoName)
            named.string(exports.resolvedName(name))
            try reply(code, .info, data: named.bytes)
        }
        if requests.contains(NBDWire.infoBlockSize) {
            var sizes = NBDBytes()
            sizes.u16(NBDWire.infoBlockSize)
            sizes.u32(1)
            sizes.u32(4096)
            sizes.u32(NBDWire.maximumRequest)
            try reply(code, .info, data: sizes.bytes)
        }
        try reply(code, .ack)
        guard option == .go else { return nil }
        let resolved = exports.resolvedName(name)
        if metaExport != resolved { metaExport = nil }
        return (resolved, export)
    }

    private func metaContext(_ option: NBDWire.Option, _ data: inout NBDReader) throws {
        let code = option.rawValue
        let nameLength = try data.u32()
        let name = try data.string(Int(nameLength))
        let count = try data.u32()
        var queries: [String] = []
        for _ in 0..<count {
            let length = try data.u32()
            queries.append(try data.string(Int(length)))
        }
        guard data.remaining == 0 else {
            try reply(code, .errorInvalid, message: "the option is longer than its fields")
            return
        }
        if option == .setMetaContext, !structured {
            try reply(code, .errorInvalid, message: "negotiate structured replies before setting a meta context")
            return
        }
        guard exports.source(named: name) != nil else {
            try reply(code, .errorUnknown, message: "there is no export '\(name)'")
            return
        }
        let matches: Bool
        if option == .listMetaContext, queries.isEmpty {
            matches = true
        } else {
            matches = queries.contains { $0 == NBDWire.baseAllocation || (option == .listMetaContext && $0 == "base:") }
        }
        if matches {
            var context = NBDBytes()
            context.u32(option == .setMetaContext ? NBDWire.baseAllocationID : 0)
            context.string(NBDWire.baseAllocation)
            try reply(code, .metaContext, data: context.bytes)
        }
        if option == .setMetaContext { metaExport = matches ? exports.resolvedName(name) : nil }
        try reply(code, .ack)
    }

    private func reply(_ option: UInt32, _ type: NBDWire.Reply, data: [UInt8] = [], message: String? = nil) throws {
        let payload = message.map { Array($0.utf8) } ?? data
        var bytes = NBDBytes()
        bytes.u64(NBDWire.optionReplyMagic)
        bytes.u32(option)
        bytes.u32(type.rawValue)
        bytes.u32(UInt32(payload.count))
        bytes.bytes.append(contentsOf: payload)
        try stream.write(bytes.bytes)
    }

    static let transmissionFlags =
        NBDWire.transmissionHasFlags | NBDWire.transmissionReadOnly | NBDWire.transmissionSendFlush
        | NBDWire.transmissionCanMultiConn | NBDWire.transmissionSendCache

    // MARK: - Transmission

    private func transmit(name: String, _ export: any NBDExportSource) throws {
        let allocation = structured && metaExport == name
        while true {
            var header = NBDReader(try stream.read(28))
            guard try header.u32() == NBDWire.requestMagic else { throw NBDProtocolError("a request without its magic") }
            let flags = try header.u16()
            let type = try header.u16()
            let cookie = try header.u64()
            let offset = try header.u64()
            let length = try header.u32()
            switch NBDWire.Command(rawValue: type) {
            case .read:
                guard let problem = check(offset, length, export) else {
                    try read(cookie: cookie, offset: offset, length: Int(length), export)
                    continue
                }
                try fail(cookie, NBDWire.errorInvalid, problem, structuredReply: structured)
            case .write:
                guard length <= NBDWire.maximumRequest else {
                    throw NBDProtocolError("a write of \(length) bytes to a read-only export")
                }
                _ = try stream.read(Int(length))
                try fail(cookie, NBDWire.errorPermission, "the export is read-only", structuredReply: false)
            case .trim, .writeZeroes:
                try fail(cookie, NBDWire.errorPermission, "the export is read-only", structuredReply: false)
            case .disconnect:
                return
            case .flush, .cache:
                try simpleReply(cookie, error: 0)
            case .blockStatus:
                guard allocation else {
                    try fail(cookie, NBDWire.errorInvalid, "base:allocation was not negotiated", structuredReply: structured)
                    continue
                }
                if let problem = check(offset, length, export, limit: false) {
                    try fail(cookie, NBDWire.errorInvalid, problem, structuredReply: true)
                    continue
                }
                try blockStatus(
                    cookie: cookie, offset: offset, length: UInt64(length),
                    onlyOne: flags & NBDWire.commandFlagReqOne != 0, export)
            case nil:
                try fail(cookie, NBDWire.errorInvalid, "command \(type) is not supported", structuredReply: structured)
            }
        }
    }

    /// Why a request's range is refused; nil when it is served.
    private func check(_ offset: UInt64, _ length: UInt32, _ export: any NBDExportSource, limit: Bool = true) -> String? {
        if limit, length > NBDWire.maximumRequest {
            return "a request of \(length) bytes is larger than the \(NBDWire.maximumRequest) this server takes"
        }
        let (end, overflow) = offset.addingReportingOverflow(UInt64(length))
        if overflow || end > export.size || (length == 0 && !limit) {
            return "bytes \(offset)..<\(end) are not within the export's \(export.size) bytes"
        }
        return nil
    }

    private func read(cookie: UInt64, offset: UInt64, length: Int, _ export: any NBDExportSource) throws {
        let pieces: [NBDPiece]
        do {
            pieces = length == 0 ? [] : try export.read(offset: offset, length: length)
        } catch {
            log("NBD read of \(length) bytes at \(offset) failed: \(error)")
            try fail(cookie, NBDWire.errorIO, "\(error)", structuredReply: structured)
            return
        }
        guard structured else {
            var header = NBDBytes()
            header.u32(NBDWire.simpleReplyMagic)
            header.u32(0)
            header.u64(cookie)
            try stream.write(header.bytes)
            for piece in pieces {
                switch piece {
                case .data(let bytes): try stream.write(bytes)
                case .zeros(let count): try stream.write([UInt8](repeating: 0, count: count))
                }
            }
            return
        }
        guard !pieces.isEmpty else {
            try chunk(cookie, type: NBDWire.replyTypeNone, done: true, payload: [])
            return
        }
        var position = offset
        for (index, piece) in pieces.enumerated() {
            let done = index == pieces.count - 1
            var payload = NBDBytes()
            payload.u64(position)
            switch piece {
            case .data(let bytes):
                try chunk(cookie, type: NBDWire.replyTypeOffsetData, done: done, payload: payload.bytes, data: bytes)
            case .zeros(let count):
                payload.u32(UInt32(count))
                try chunk(cookie, type: NBDWire.replyTypeOffsetHole, done: done, payload: payload.bytes)
            }
            position += UInt64(piece.count)
        }
    }

    private func blockStatus(
        cookie: UInt64, offset: UInt64, length: UInt64, onlyOne: Bool, _ export: any NBDExportSource
    ) throws {
        var extents: [NBDExtent]
        do {
            extents = try export.extents(offset: offset, length: length)
        } catch {
            try fail(cookie, NBDWire.errorIO, "\(error)", structuredReply: true)
            return
        }
        if onlyOne { extents = Array(extents.prefix(1)) }
        var payload = NBDBytes()
        payload.u32(NBDWire.baseAllocationID)
        var left = length
        for extent in extents where left > 0 {
            let run = min(extent.length, left)
            guard run > 0 else { continue }
            payload.u32(UInt32(run))
            payload.u32(extent.isZero ? NBDWire.stateHole | NBDWire.stateZero : 0)
            left -= run
        }
        guard payload.bytes.count > 4 else {
            try fail(cookie, NBDWire.errorIO, "the export described no extent", structuredReply: true)
            return
        }
        try chunk(cookie, type: NBDWire.replyTypeBlockStatus, done: true, payload: payload.bytes)
    }

    private func fail(_ cookie: UInt64, _ error: UInt32, _ message: String, structuredReply: Bool) throws {
        guard structuredReply else {
            try simpleReply(cookie, error: error)
            return
        }
        let text = Array(message.utf8.prefix(4096))
        var payload = NBDBytes()
        payload.u32(error)
        payload.u16(UInt16(text.count))
        payload.bytes.append(contentsOf: text)
        try chunk(cookie, type: NBDWire.replyTypeError, done: true, payload: payload.bytes)
    }

    private func simpleReply(_ cookie: UInt64, error: UInt32) throws {
        var bytes = NBDBytes()
        bytes.u32(NBDWire.simpleReplyMagic)
        bytes.u32(error)
        bytes.u64(cookie)
        try stream.write(bytes.bytes)
    }

    private func chunk(_ cookie: UInt64, type: UInt16, done: Bool, payload: [UInt8], data: [UInt8] = []) throws {
        var header = NBDBytes()
        header.u32(NBDWire.structuredReplyMagic)
        header.u16(done ? NBDWire.replyFlagDone : 0)
        header.u16(type)
        header.u64(cookie)
        header.u32(UInt32(payload.count + data.count))
        header.bytes.append(contentsOf: payload)
        try stream.write(header.bytes)
        if !data.isEmpty { try stream.write(data) }
    }
}
