import Foundation
import GuestFiles

#if canImport(Glibc)
import Glibc
#endif

/// Answers the parent's requests over the channel, one at a time, until its input ends.
struct GuestReaderService {
    let browser: GuestBrowser
    let channel: GuestReaderChannel
    let testFaults: Bool

    func run() {
        while true {
            let received: (GuestReaderWire.Kind, [UInt8])?
            do {
                received = try channel.receive()
            } catch {
                fail(error)
                return
            }
            guard let (kind, payload) = received else { return }
            guard kind == .request else {
                fail(GuestFilesError(.invalid, "expected a request, got a \(kind) frame"))
                return
            }
            do {
                guard try answer(try GuestReaderWire.request(payload)) else { return }
            } catch {
                guard fail(error) else { return }
            }
        }
    }

    /// Answers one request; false when the parent is gone.
    private func answer(_ request: GuestReaderRequest) throws -> Bool {
        switch request {
        case .list(let path):
            try fault(path)
            return channel.send(.answer, try encode(try browser.list(path)))
        case .entry(let path):
            try fault(path)
            return channel.send(.answer, try encode(try browser.entry(path)))
        case .read(let path):
            try fault(path)
            var open = true
            try browser.read(path) { bytes in
                var start = 0
                while open, start < bytes.count {
                    let end = min(bytes.count, start + GuestReaderWire.maximumPiece)
                    open = channel.send(.piece, Array(bytes[start..<end]))
                    start = end
                }
            }
            return open && channel.send(.end)
        }
    }

    private func encode(_ value: some Encodable) throws -> [UInt8] {
        let bytes = [UInt8](try JSONEncoder().encode(value))
        guard bytes.count <= GuestReaderWire.maximumAnswer else {
            throw GuestFilesError(.unsupported, "the answer holds \(bytes.count) bytes, more than the \(GuestReaderWire.maximumAnswer) a listing may; list a smaller folder")
        }
        return bytes
    }

    /// Reports `error` to the parent; false when the parent is gone.
    @discardableResult
    private func fail(_ error: any Error) -> Bool {
        var failure = (error as? GuestFilesError) ?? GuestFilesError(.corrupt, "\(error)")
        failure.message = String(decoding: failure.message.utf8.prefix(GuestReaderWire.maximumMessage / 2), as: UTF8.self)
        let payload = (try? JSONEncoder().encode(GuestReaderFailure(failure))).map { [UInt8]($0) } ?? []
        return channel.send(.failure, payload)
    }

    /// For tests of the parent: a path ending in `__crash__` crashes the helper, one ending in `__hang__` hangs it.
    private func fault(_ path: String) throws {
        guard testFaults else { return }
        if path.hasSuffix("/__crash__") {
            signal(SIGSEGV, SIG_DFL)
            kill(getpid(), SIGSEGV)
        }
        if path.hasSuffix("/__hang__") {
            while true { sleep(3600) }
        }
    }
}
