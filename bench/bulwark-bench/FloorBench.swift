import ArgumentParser
import BulwarkStore
import Crypto
import Foundation

/// The CPU time of the work a full backup must do to every byte besides reading it from QEMU, each on its own:
/// SHA-256 (through the agent's and server's own `ChunkDigest.of`), AES-GCM sealing and opening (what TLS does to
/// the bytes between agent and server), and one pass through a loopback TCP connection. bench/sync adds them up
/// with QEMU's and the reader's CPU into the floor no implementation of this design can go under.
///
/// Each is measured to err low: AES-GCM in 256 KiB records (TLS's are 16 KiB, each with its own overhead), TCP with
/// plain 4 MiB writes and reads.
struct FloorBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "floor",
        abstract: "CPU seconds of SHA-256, AES-GCM seal+open and a loopback TCP pass over random data, as JSON.")

    @Option(help: "MiB of data.")
    var mib = 1024

    func validate() throws {
        guard (4...65536).contains(mib), mib % 4 == 0 else { throw ValidationError("--mib must be 4 to 65536, a multiple of 4") }
    }

    func run() throws {
        var generator = SystemRandomNumberGenerator()
        var chunk = (0..<(4 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let chunks = mib / 4

        var check = 0
        var start = Self.threadCPU()
        for index in 0..<chunks {
            // A byte changed before each hash, so no two inputs are alike.
            chunk[index] &+= 1
            check &+= Int(ChunkDigest.of(chunk).bytes[0])
        }
        let sha = Self.threadCPU() - start

        let key = SymmetricKey(size: .bits128)
        let record = 256 << 10
        start = Self.threadCPU()
        for _ in 0..<chunks {
            for offset in stride(from: 0, to: chunk.count, by: record) {
                let sealed = try AES.GCM.seal(chunk[offset..<(offset + record)], using: key)
                check &+= Int(try AES.GCM.open(sealed, using: key).count & 1)
            }
        }
        let aes = Self.threadCPU() - start

        let tcp = try Self.loopbackPass(chunk, times: chunks)
        print(#"{"sha256": \#(sha), "aesgcm": \#(aes), "tcp": \#(tcp), "bytes": \#(mib << 20), "check": \#(check)}"#)
    }

    /// The process's CPU seconds (both ends, user and system) to send `chunk` `times` times through a loopback TCP
    /// connection and read it back.
    static func loopbackPass(_ chunk: [UInt8], times: Int) throws -> Double {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw ValidationError("socket: \(String(cString: strerror(errno)))") }
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(listener, socketAddress, length) == 0 && listen(listener, 1) == 0
                    && getsockname(listener, socketAddress, &length) == 0
            }
        }
        guard bound else { throw ValidationError("loopback listener: \(String(cString: strerror(errno)))") }
        let port = address.sin_port
        let before = processCPU()
        let sender = Thread {
            let connection = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var target = sockaddr_in()
            target.sin_family = sa_family_t(AF_INET)
            target.sin_addr.s_addr = inet_addr("127.0.0.1")
            target.sin_port = port
            let connected = withUnsafePointer(to: &target) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(connection, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            if connected {
                chunk.withUnsafeBytes { raw in
                    for _ in 0..<times {
                        var sent = 0
                        while sent < raw.count {
                            let count = send(connection, raw.baseAddress! + sent, raw.count - sent, 0)
                            guard count > 0 else { break }
                            sent += count
                        }
                    }
                }
            }
            close(connection)
        }
        sender.start()
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { throw ValidationError("accept: \(String(cString: strerror(errno)))") }
        defer { close(connection) }
        var buffer = [UInt8](repeating: 0, count: chunk.count)
        var received = 0
        buffer.withUnsafeMutableBytes { raw in
            while true {
                let count = recv(connection, raw.baseAddress!, raw.count, 0)
                guard count > 0 else { break }
                received += count
            }
        }
        guard received == chunk.count * times else {
            throw ValidationError("the loopback connection carried \(received) of \(chunk.count * times) bytes")
        }
        return processCPU() - before
    }

    static func threadCPU() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    static func processCPU() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
