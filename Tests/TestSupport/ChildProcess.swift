import Foundation

/// A helper program a test starts and stops (qemu-nbd, nbdkit, qemu-img), with its output kept for failures.
public final class ChildProcess: @unchecked Sendable {
    private let process = Process()
    private let output = Pipe()
    /// Where a long-running program's output goes instead of the pipe, which it would fill and block on.
    public let logFile: String?
    public let commandLine: String

    /// Starts `executable` (looked up on PATH when it has no slash) with `arguments`; with `logFile` its output is
    /// appended to that file, for programs that run long and talk a lot (daemons).
    public init(
        _ executable: String, _ arguments: [String], logFile: String? = nil, environment: [String: String]? = nil
    ) throws {
        process.executableURL = URL(fileURLWithPath: try Self.locate(executable))
        process.arguments = arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        self.logFile = logFile
        if let logFile {
            if !FileManager.default.fileExists(atPath: logFile) {
                _ = FileManager.default.createFile(atPath: logFile, contents: nil)
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
            try handle.seekToEnd()
            process.standardOutput = handle
            process.standardError = handle
        } else {
            process.standardOutput = output
            process.standardError = output
        }
        commandLine = ([executable] + arguments).joined(separator: " ")
        try process.run()
    }

    /// Sends `signal` without waiting.
    public func signal(_ signal: Int32) {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, signal)
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Sends SIGKILL and waits for the process to go.
    public func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Waits for the process to end and returns its exit status and combined output.
    public func wait() -> (status: Int32, output: String) {
        if let logFile {
            process.waitUntilExit()
            return (process.terminationStatus, (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    deinit { kill() }

    /// Runs a program to completion and throws with its output when it fails.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let child = try ChildProcess(executable, arguments)
        let (status, text) = child.wait()
        guard status == 0 else { throw TestFailure("\(child.commandLine) exited \(status): \(text)") }
        return text
    }

    static func locate(_ name: String) throws -> String {
        if name.contains("/") { return name }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"] {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw TestFailure("\(name) is not installed; run scripts/setup")
    }
}

/// Where SwiftPM put the product `name` (`bulwarkd`, `bulwark-agent`, `bulwark`): beside the test bundle, or a
/// folder above it.
public func productPath(_ name: String) -> String {
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent(name).path),
        directory.path != "/"
    {
        directory.deleteLastPathComponent()
    }
    return directory.appendingPathComponent(name).path
}

/// A test precondition that did not hold, with a message that says what to do.
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Polls `condition` every 100 ms until it holds, failing after `seconds`. The limit only bounds a hang: no test
/// asserts how long anything takes.
public func waitUntil(
    _ what: String, seconds: Double = 60, interval: Double = 0.1, _ condition: () async throws -> Bool
) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while try await !condition() {
        guard Date() < deadline else { throw TestFailure("gave up waiting for \(what) after \(Int(seconds)) s") }
        try await Task.sleep(nanoseconds: UInt64(interval * 1e9))
    }
}

/// A fresh temporary directory, removed by `cleanUp()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(_ prefix: String = "bulwark-test") throws {
        var base = ProcessInfo.processInfo.environment["BULWARK_TEST_TMP"] ?? NSTemporaryDirectory()
        while base.count > 1, base.hasSuffix("/") { base.removeLast() }
        path = "\(base)/\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    public func cleanUp() { try? FileManager.default.removeItem(atPath: path) }
}
