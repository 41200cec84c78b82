public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The real S3 server of the S3 tests: Ceph's RADOS Gateway from `scripts/s3-testbed`, started once per test process.
///
/// With `BULWARK_S3_DIR` set, that folder's testbed is used (started if stopped, created if absent) and left running,
/// so that repeated runs skip the ~8 s cold start. Without it, a testbed is made in `/tmp/bw-s3-<pid>` on free ports
/// and destroyed when the process exits. Folders stay short: Ceph's admin socket paths must fit in 107 bytes.
public actor S3Testbed {
    /// What `scripts/s3-testbed start` printed.
    public struct Environment: Sendable {
        public var folder: String
        public var endpoint: URL
        public var tlsEndpoint: URL
        /// The PEM of the throw-away CA that signed the gateway's certificate.
        public var caFile: String
        public var accessKey: String
        public var secretKey: String
    }

    public static let shared = S3Testbed()

    private var environment: Environment?

    /// The running testbed, started on the first call.
    public func start() async throws -> Environment {
        if let environment { return environment }
        let configured = ProcessInfo.processInfo.environment["BULWARK_S3_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        let folder = configured ?? "/tmp/bw-s3-\(getpid())"
        var ports: [String]
        if let state = try? String(contentsOfFile: "\(folder)/state.env", encoding: .utf8) {
            // An existing testbed keeps the ports it was made with.
            let values = Self.assignments(state)
            ports = [values["PORT"], values["TLS_PORT"]].compactMap { $0 }.filter { !$0.isEmpty }
        } else {
            ports = [try freePort(), try freePort()].map(String.init)
        }
        if configured == nil { removeAtExit(folder) }
        let output = try Self.script(["start", folder] + ports)
        let values = Self.assignments(output)
        guard let endpoint = values["S3_ENDPOINT"].flatMap(URL.init(string:)),
            let tlsEndpoint = values["S3_TLS_ENDPOINT"].flatMap(URL.init(string:)),
            let caFile = values["S3_CA_FILE"], let accessKey = values["S3_ACCESS_KEY"],
            let secretKey = values["S3_SECRET_KEY"]
        else {
            throw TestFailure(
                "scripts/s3-testbed start \(folder) printed no HTTPS endpoint or keys (was \(folder) made without a TLS "
                    + "port? destroy it): \(output)")
        }
        let started = Environment(
            folder: folder, endpoint: endpoint, tlsEndpoint: tlsEndpoint, caFile: caFile, accessKey: accessKey,
            secretKey: secretKey)
        environment = started
        return started
    }

    /// Stops only radosgw, as a gateway restart or outage looks to a client.
    public func stopGateway() async throws {
        let environment = try await start()
        try Self.script(["stop-gateway", environment.folder])
    }

    /// Starts radosgw again after ``stopGateway()``.
    public func startGateway() async throws {
        let environment = try await start()
        try Self.script(["start-gateway", environment.folder])
    }

    /// Freezes radosgw (SIGSTOP): connections are still accepted by the kernel but nothing answers, as with a
    /// gateway hanging on a full OSD.
    public func freezeGateway() async throws {
        try signalGateway(SIGSTOP)
    }

    /// Lets a frozen radosgw run on (SIGCONT).
    public func thawGateway() async throws {
        try signalGateway(SIGCONT)
    }

    private func signalGateway(_ signal: Int32) throws {
        guard let folder = environment?.folder else { throw TestFailure("the S3 testbed is not started") }
        let text = try String(contentsOfFile: "\(folder)/run/client.rgw.gw.pid", encoding: .utf8)
        guard let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, signal) == 0 else {
            throw TestFailure("cannot signal radosgw of \(folder) (pid file: \(text))")
        }
    }

    /// Runs `scripts/s3-testbed` with `arguments`; its standard output, or a failure with its standard error.
    ///
    /// posix_spawn and waitpid rather than Foundation's `Process`, whose `waitUntilExit` was seen to hang after the
    /// script had exited having started daemons; and the script gets no blocked signals (this process blocks some),
    /// which the daemons would inherit.
    @discardableResult
    static func script(_ arguments: [String]) throws -> String {
        let base = "\(NSTemporaryDirectory())/s3-testbed-\(getpid())-\(UUID().uuidString.prefix(8))"
        let outputPath = base + ".out"
        let errorPath = base + ".err"
        defer {
            unlink(outputPath)
            unlink(errorPath)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        // Files, not pipes: apt-get's output on a first install would fill a pipe nobody reads yet.
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([scriptPath] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, scriptPath, &actions, &attributes, argv, environ)
        guard spawned == 0 else { throw TestFailure("cannot run \(scriptPath): errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw TestFailure("waitpid for \(scriptPath) failed: errno \(errno)") }
        }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let errorText = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        // Exited normally with status 0: WIFEXITED and WEXITSTATUS by hand, the macros are not imported.
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw TestFailure("scripts/s3-testbed \(arguments.joined(separator: " ")) failed (\(status)): \(errorText)")
        }
        return output
    }

    static var scriptPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/s3-testbed").path
    }

    static func assignments(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }
}

/// A TCP port on 127.0.0.1 nothing listens on now (the kernel's pick for a socket bound to port 0).
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket() failed: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestFailure("bind() failed: errno \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw TestFailure("getsockname() failed: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// The testbed folder `atexit` destroys; written once, before the handler is registered.
nonisolated(unsafe) private var testbedToRemove: String?

private func removeAtExit(_ folder: String) {
    testbedToRemove = folder
    atexit {
        guard let folder = testbedToRemove else { return }
        _ = try? S3Testbed.script(["destroy", folder])
    }
}
