import Foundation
import TestSupport

/// A real `bulwarkd` (the binary SwiftPM built beside the tests) on 127.0.0.1 and a free port, with a fresh data
/// directory; tokens come from the real `bulwark` CLI, so the whole path an admin takes is exercised.
final class EnrollmentTestServer: Sendable {
    let data: TemporaryDirectory
    let process: ChildProcess
    let url: String

    struct Token: Decodable {
        var token: String
        var enrollCommand: String
    }

    init() async throws {
        data = try TemporaryDirectory("agent-enroll-server")
        let process = try ChildProcess(
            productPath("bulwarkd"), ["--data-dir", data.path, "--listen", "127.0.0.1:0", "--log-level", "error"],
            logFile: data.file("bulwarkd.log"))
        self.process = process
        let address = data.file("address")
        try await waitUntil("bulwarkd to publish its address", seconds: 60) {
            guard process.isRunning else { throw TestFailure("bulwarkd exited: \(process.wait().output)") }
            return FileManager.default.fileExists(atPath: address)
        }
        url = try String(contentsOfFile: address, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The server's CA certificate, as its data directory holds it.
    var caPEM: String {
        get throws { try String(contentsOfFile: data.file("ca.pem"), encoding: .utf8) }
    }

    /// A new enrollment token for `host`, made with `bulwark agent token --json`.
    func token(host: String = "kvm1", reenroll: Bool = false) throws -> Token {
        try JSONDecoder().decode(
            Token.self,
            from: Data(try bulwark(
                ["agent", "token", "--host", host, "--expires", "10m", "--json"] + (reenroll ? ["--reenroll"] : [])).utf8))
    }

    /// Runs the admin CLI against this server and returns its standard output.
    @discardableResult
    func bulwark(_ arguments: [String]) throws -> String {
        let child = try ChildProcess(
            productPath("bulwark"), arguments, environment: ["BULWARK_DATA_DIR": data.path, "BULWARK_SERVER": url])
        let (status, output) = child.wait()
        guard status == 0 else {
            throw TestFailure("bulwark \(arguments.joined(separator: " ")) exited \(status): \(output)")
        }
        return output
    }

    func stop() {
        process.kill()
        data.cleanUp()
    }
}

/// Runs `body` with a fresh server and a fresh state directory, and removes both afterwards.
func withEnrollmentServer(
    _ body: (EnrollmentTestServer, TemporaryDirectory) async throws -> Void
) async throws {
    let server = try await EnrollmentTestServer()
    let state = try TemporaryDirectory("agent-state")
    defer {
        server.stop()
        state.cleanUp()
    }
    try await body(server, state)
}

/// An HTTPS server that is not bulwarkd: it answers `GET /v1/ca` with a certificate of the test's choice and logs
/// every request line, so a test can tell whether the agent sent its token.
final class ImpostorServer: Sendable {
    let files: TemporaryDirectory
    let process: ChildProcess
    let url: String

    static var isAvailable: Bool {
        (try? ChildProcess.run("python3", ["-c", "import ssl, http.server"])) != nil
            && (try? ChildProcess.run("openssl", ["version"])) != nil
    }

    /// Starts the impostor with a self-signed certificate of its own, serving `caPEM` as its CA (nil: its own).
    init(servingCA caPEM: String?) async throws {
        files = try TemporaryDirectory("agent-impostor")
        try ChildProcess.run(
            "openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", files.file("key.pem"),
                "-out", files.file("cert.pem"),
            ])
        let served = try caPEM ?? String(contentsOfFile: files.file("cert.pem"), encoding: .utf8)
        try served.write(toFile: files.file("served-ca.pem"), atomically: true, encoding: .utf8)
        try Self.script.write(toFile: files.file("impostor.py"), atomically: true, encoding: .utf8)
        let process = try ChildProcess(
            "python3",
            [
                files.file("impostor.py"), files.file("served-ca.pem"), files.file("cert.pem"), files.file("key.pem"),
                files.file("port"), files.file("requests.log"),
            ],
            logFile: files.file("impostor.out"))
        self.process = process
        let portFile = files.file("port")
        try await waitUntil("the impostor server to listen", seconds: 30) {
            guard process.isRunning else { throw TestFailure("the impostor exited: \(process.wait().output)") }
            return FileManager.default.fileExists(atPath: portFile)
        }
        url = "https://127.0.0.1:" + (try String(contentsOfFile: portFile, encoding: .utf8))
    }

    /// The request lines the impostor saw, e.g. `GET /v1/ca`.
    var requests: [String] {
        ((try? String(contentsOfFile: files.file("requests.log"), encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    func stop() {
        process.kill()
        files.cleanUp()
    }

    static let script = """
        import http.server, os, ssl, sys
        served, cert, key, port_file, log_file = sys.argv[1:6]
        body = open(served, "rb").read()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args): pass
            def record(self):
                with open(log_file, "a") as log: log.write(f"{self.command} {self.path}\\n")
            def answer(self, status, payload):
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            def do_GET(self):
                self.record()
                self.answer(200, body) if self.path == "/v1/ca" else self.answer(404, b"")
            def do_POST(self):
                self.record()
                self.answer(500, b"")

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        with open(port_file + ".tmp", "w") as out: out.write(str(server.server_address[1]))
        os.rename(port_file + ".tmp", port_file)
        server.serve_forever()
        """
}
