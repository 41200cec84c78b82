import BulwarkAPI
import BulwarkClient
import BulwarkCore
import Foundation

/// Follows jobs until they end: new log lines as they arrive and, on a terminal, a progress line with bytes
/// scanned and sent, rate and time left.
struct JobWatcher {
    let client: BulwarkAPIClient
    /// Draw the progress line (standard output is a terminal and JSON was not asked for).
    let showProgress: Bool
    /// Print log lines as they arrive.
    let showLog: Bool

    init(client: BulwarkAPIClient, json: Bool) {
        self.client = client
        showProgress = !json && isatty(STDOUT_FILENO) == 1
        showLog = !json
    }

    /// Polls `id` until it finishes and returns the finished job.
    func follow(_ id: String) async throws(ClientError) -> JobView {
        var printed = 0
        var samples: [(time: Date, scanned: Int64)] = []
        var progressShown = false
        // The server answers as soon as the job ends, so the command returns when the job does; while it runs, a
        // follower that shows progress or log lines hears about it four times a second.
        let wait = showProgress || showLog ? "0.25" : "10"
        while true {
            let asked = ContinuousClock.now
            let job: JobView = try await client.get("/v1/jobs/\(id.pathEscaped)?wait=\(wait)")
            let log = job.log ?? []
            if showLog, log.count > printed {
                if progressShown { clearLine() }
                for line in log[printed...] {
                    print("\(line.time.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false))) "
                        + "\(line.level.padding(toLength: 7, withPad: " ", startingAt: 0)) \(line.message)")
                }
                printed = log.count
                progressShown = false
            }
            if job.state.isFinished {
                if progressShown { clearLine() }
                return job
            }
            if showProgress, let bytes = job.bytes, bytes.bytesTotal > 0 {
                samples.append((Date(), bytes.bytesScanned))
                samples = Array(samples.suffix(10))
                let line = Self.progressLine(job: job, bytes: bytes, samples: samples)
                FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + line).utf8))
                progressShown = true
            }
            // A bulwarkd older than `wait` answers at once: do not ask it again straight away.
            if asked.duration(to: .now) < .milliseconds(20) { try? await Task.sleep(for: .milliseconds(100)) }
        }
    }

    private func clearLine() {
        FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8))
    }

    /// `[#######-------]  52%  1.0 GiB of 2.0 GiB scanned  410 MiB sent  95.2 MiB/s  ETA 0:11  (transfer)`
    static func progressLine(job: JobView, bytes: JobProgress, samples: [(time: Date, scanned: Int64)]) -> String {
        let width = 24
        let filled = Int((bytes.fraction * Double(width)).rounded(.down))
        var line = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
        line += String(format: "%3d%%  ", Int(bytes.fraction * 100))
        line += "\(ByteCount.approximate(bytes.bytesScanned)) of \(ByteCount.approximate(bytes.bytesTotal)) scanned  "
        line += "\(ByteCount.approximate(bytes.bytesSent)) sent"
        if let first = samples.first, let last = samples.last, last.time.timeIntervalSince(first.time) > 0.5 {
            let rate = Double(last.scanned - first.scanned) / last.time.timeIntervalSince(first.time)
            line += "  \(ByteCount.approximate(Int64(rate)))/s"
            if rate > 0 {
                let left = Int(Double(bytes.bytesTotal - bytes.bytesScanned) / rate)
                line += String(format: "  ETA %d:%02d", left / 60, left % 60)
            }
        }
        if let phase = job.phase { line += "  (\(phase.rawValue))" }
        return line
    }

    /// One line that says how a finished job ended.
    static func summary(_ job: JobView) -> String {
        var text = "job \(job.id) \(job.state.rawValue)"
        if job.state == .queued, let start = job.startAt { text += " until \(start.formatted(.iso8601))" }
        if let point = job.recoveryPoint { text += ": recovery point \(point)" }
        if let bytes = job.bytes {
            text += " (\(ByteCount.approximate(bytes.bytesScanned)) scanned, \(ByteCount.approximate(bytes.bytesSent)) sent)"
        }
        if let error = job.error { text += ": \(error)" }
        return text
    }

    /// The exit code for a finished job: 0 when it succeeded, 1 otherwise.
    static func exitCode(_ job: JobView) -> Int32 {
        job.state == .succeeded || job.state == .succeededWithWarnings ? 0 : 1
    }
}
