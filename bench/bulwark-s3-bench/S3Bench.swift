import Foundation
import NIOCore
import S3

#if canImport(Glibc)
    import Glibc
#endif

/// `bulwark-s3-bench put|get`: moves every file of a folder to or from a bucket with the S3 client, as
/// `aws s3 cp --recursive` does, for `bench/s3-objects`; prints the seconds taken.
///
/// Arguments come from the environment `scripts/s3-testbed start` prints (S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY)
/// and the command line: `put|get BUCKET PREFIX FOLDER [CONCURRENCY]`.
@main
struct S3Bench {
    static func main() async throws {
        let arguments = CommandLine.arguments
        let environment = ProcessInfo.processInfo.environment
        guard arguments.count >= 5, ["put", "get"].contains(arguments[1]),
            let endpoint = environment["S3_ENDPOINT"].flatMap(URL.init(string:)),
            let accessKey = environment["S3_ACCESS_KEY"], let secretKey = environment["S3_SECRET_KEY"]
        else {
            FileHandle.standardError.write(
                Data("usage: S3_ENDPOINT=… S3_ACCESS_KEY=… S3_SECRET_KEY=… bulwark-s3-bench put|get BUCKET PREFIX FOLDER [CONCURRENCY]\n".utf8))
            exit(2)
        }
        let (mode, bucket, prefix, folder) = (arguments[1], arguments[2], arguments[3], arguments[4])
        let concurrency = arguments.count > 5 ? Int(arguments[5]) ?? 10 : 10
        let client = try S3Client(
            configuration: S3Configuration(
                endpoint: endpoint, bucket: bucket, keyPrefix: prefix,
                credentials: S3Credentials(accessKey: accessKey, secretKey: secretKey)))
        // Timed like `aws s3 cp`: the listing of a download counts, making the bucket does not.
        do { try await client.createBucket() } catch {
            await client.shutdown()
            throw error
        }
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let names: [String]
            if mode == "put" {
                names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
            } else {
                names = try await client.list().map(\.key)
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                var next = names.makeIterator()
                func add() {
                    guard let name = next.next() else { return }
                    let path = "\(folder)/\(name)"
                    group.addTask {
                        // ByteBuffers straight from and to the files: no copies the client does not need.
                        if mode == "put" {
                            try await client.put(key: name, body: try readFile(path))
                        } else {
                            try writeFile(path, try await client.getBuffer(key: name))
                        }
                    }
                }
                for _ in 0..<concurrency { add() }
                while try await group.next() != nil { add() }
            }
        } catch {
            await client.shutdown()
            throw error
        }
        let seconds = (clock.now - start) / .seconds(1)
        await client.shutdown()
        print(String(format: "%.3f", seconds))
    }
}

struct FileError: Error, CustomStringConvertible {
    var description: String
}

func readFile(_ path: String) throws -> ByteBuffer {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileError(description: "cannot open \(path): errno \(errno)") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw FileError(description: "cannot stat \(path): errno \(errno)") }
    var buffer = ByteBufferAllocator().buffer(capacity: Int(info.st_size))
    while true {
        let count = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 1) { read(fd, $0.baseAddress, $0.count) }
        if count < 0 { throw FileError(description: "cannot read \(path): errno \(errno)") }
        if count == 0 { return buffer }
    }
}

func writeFile(_ path: String, _ buffer: ByteBuffer) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw FileError(description: "cannot create \(path): errno \(errno)") }
    defer { close(fd) }
    var rest = buffer
    while rest.readableBytes > 0 {
        let count = rest.withUnsafeReadableBytes { write(fd, $0.baseAddress, $0.count) }
        if count < 0 { throw FileError(description: "cannot write \(path): errno \(errno)") }
        rest.moveReaderIndex(forwardBy: count)
    }
}
