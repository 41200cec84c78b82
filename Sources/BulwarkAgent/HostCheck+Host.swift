import BulwarkCore
public import Foundation
import X509

/// The host-wide checks of `bulwark-agent doctor`: scratch space, enrollment, and what item-level copies can read.
extension HostCheck {
    /// Which guest file systems item-level copies onto this host can read: libguestfs is optional, so its absence
    /// is reported, not a failure. `unavailable` is why libguestfs cannot be used, nil when it can.
    public static func itemRecovery(libguestfsUnavailable unavailable: String?) -> HostCheck {
        guard let unavailable else {
            return HostCheck(.ok, "libguestfs is installed: items copied onto this host can come from ext2/3/4, LVM, XFS and NTFS")
        }
        return HostCheck(.ok, "items copied onto this host come from ext2/3/4 only: \(unavailable)")
    }

    /// Whether item-level copies onto this host can run: guest file systems are parsed only by
    /// `bulwark-guest-reader`, in a bubblewrap sandbox, never by the agent itself.
    public static func guestReader(helper: String?, helperMissing: String?, bubblewrap: String) -> HostCheck {
        guard let helper else {
            return HostCheck(.warn, "items cannot be copied onto this host: \(helperMissing ?? "bulwark-guest-reader is not installed")")
        }
        guard FileManager.default.isExecutableFile(atPath: bubblewrap) else {
            return HostCheck(
                .warn, "items cannot be copied onto this host: \(bubblewrap) is missing, and guest file systems are read only in its sandbox",
                fix: "apt-get install bubblewrap")
        }
        return HostCheck(.ok, "guest file systems are read by \(helper) in a bubblewrap sandbox, as an unprivileged user")
    }

    /// The free space the scratch directory should have: a scratch file grows with what the guest writes while a
    /// sync reads the disk, so a tenth of the largest disk, and never less than 1 GiB.
    public static func scratchThreshold(largestDisk: UInt64) -> UInt64 {
        max(1 << 30, largestDisk / 10)
    }

    /// Judges the scratch directory from a measurement (`available` bytes free on the file system of
    /// `measuredAt`, the directory or its nearest existing parent); nil when nothing could be measured.
    public static func scratchSpace(
        directory: String, measuredAt: String, available: UInt64?, largestDisk: UInt64
    ) -> HostCheck {
        guard let available else {
            return HostCheck(
                .fail, "cannot measure the free space of scratch directory \(directory)",
                fix: "create it (`mkdir -p \(directory)`), or pass --scratch-dir with a directory on a local file "
                    + "system")
        }
        let needed = scratchThreshold(largestDisk: largestDisk)
        let missing = measuredAt != directory ? " (does not exist yet; measured at \(measuredAt))" : ""
        let summary = "scratch directory \(directory)\(missing) has \(ByteCount.approximate(Int64(clamping: available))) free"
        if available >= needed {
            return HostCheck(
                missing.isEmpty ? .ok : .warn, "\(summary) (want \(ByteCount.approximate(Int64(clamping: needed))) or more)",
                fix: "create it: `mkdir -p -m 0700 \(directory)`")
        }
        return HostCheck(
            .warn,
            "\(summary), less than \(ByteCount.approximate(Int64(clamping: needed))) (a tenth of the largest disk, at least 1 GiB): syncs of "
                + "busy VMs may fail when their scratch file fills the file system",
            fix: "free space there, or pass --scratch-dir (BULWARK_AGENT_SCRATCH_DIR) with a larger file system")
    }

    /// Measures the free space for `directory`, walking up to the nearest existing parent; runs on a dispatch
    /// thread because `statvfs` can block (a hung NFS mount).
    public static func freeSpace(for directory: String) async -> (measuredAt: String, available: UInt64?) {
        await runOffCooperativePool {
            var path = directory
            while !FileManager.default.fileExists(atPath: path), path != "/", !path.isEmpty {
                path = (path as NSString).deletingLastPathComponent
            }
            if path.isEmpty { path = "/" }
            var info = statvfs()
            let available = statvfs(path, &info) == 0 ? UInt64(info.f_bavail) * UInt64(info.f_frsize) : nil
            return (path, available)
        }
    }

    /// Whether this host is enrolled (an identity in `stateDirectory`) and, if so, whether its certificate is
    /// current and the server answers it.
    public static func enrollment(stateDirectory: String, now: Date = Date()) async -> [HostCheck] {
        let stored: Result<AgentIdentity, AgentError>? = await runOffCooperativePool {
            guard AgentIdentity.exists(in: stateDirectory) else { return nil }
            return Result { () throws(AgentError) in try AgentIdentity.load(from: stateDirectory) }
        }
        let identity: AgentIdentity
        switch stored {
        case nil:
            return [
                HostCheck(
                    .warn, "this host is not enrolled (no identity in \(stateDirectory))",
                    fix: "make a token on the server with `bulwark agent token`, then run the line it prints "
                        + "(`bulwark-agent enroll --server URL --token TOKEN`)")
            ]
        case .failure(let error):
            return [
                HostCheck(
                    .fail, "the identity in \(stateDirectory) cannot be read: \(error.message)",
                    fix: "run `bulwark-agent doctor` as root, or enroll again with `bulwark-agent enroll --force`")
            ]
        case .success(let loaded):
            identity = loaded
        }
        var checks = [HostCheck(.ok, "enrolled as '\(identity.host)' with \(identity.serverURL.absoluteString)")]
        if let certificate = try? Certificate(pemEncoded: identity.certificatePEM) {
            let expiry = certificate.notValidAfter.formatted(.iso8601)
            if certificate.notValidAfter <= now {
                checks.append(
                    HostCheck(
                        .fail, "the agent's certificate expired at \(expiry)",
                        fix: "make a token with `bulwark agent token` and run `bulwark-agent enroll --force`"))
            } else if certificate.notValidAfter.timeIntervalSince(now) < 30 * 86_400 {
                checks.append(
                    HostCheck(
                        .warn, "the agent's certificate expires at \(expiry)",
                        fix: "make a token with `bulwark agent token` and run `bulwark-agent enroll --force`"))
            }
        } else {
            checks.append(
                HostCheck(
                    .fail, "\(stateDirectory)/agent.pem is not a PEM certificate",
                    fix: "enroll again with `bulwark-agent enroll --force`"))
        }
        checks.append(await serverAnswers(identity))
        return checks
    }

    /// Makes one authenticated agent call that changes nothing: any answer but a transport error or a refused
    /// certificate means the agent can talk to the server.
    ///
    /// Not `GET /v1/agent/tasks/next`: that poll claims a queued task and fails the tasks the host's running agent
    /// holds (it reports none), so a doctor run would disturb a working agent. Asking for the base index of a task
    /// that cannot exist passes the certificate check and ends in 404 (or 400 on a server that reads ids more
    /// strictly), with no effect but the agent's last-seen time.
    static func serverAnswers(_ identity: AgentIdentity) async -> HostCheck {
        let server = identity.serverURL.absoluteString
        let connection: ServerConnection
        do {
            connection = try ServerConnection(identity: identity)
        } catch {
            return HostCheck(.fail, error.message, fix: "enroll again with `bulwark-agent enroll --force`")
        }
        let check: HostCheck
        do {
            _ = try await connection.send(.GET, Self.probePath, body: nil, timeout: .seconds(20))
            check = HostCheck(.ok, "the server at \(server) answers this agent")
        } catch where error.code == .notFound || error.code == .rejected {
            // The server answered: that is all this check asks.
            check = HostCheck(.ok, "the server at \(server) answers this agent")
        } catch where error.code == .unauthorized {
            check = HostCheck(
                .fail, "the server at \(server) refused this agent's certificate: \(error.message)",
                fix: "the agent may have been removed (`bulwark agent list` on the server); enroll again with a new "
                    + "token and `bulwark-agent enroll --force`")
        } catch {
            check = HostCheck(
                .fail, "the server at \(server) does not answer: \(error.message)",
                fix: "check that bulwarkd runs and that this host reaches \(server) (firewall, address)")
        }
        await connection.shutdown()
        return check
    }

    /// The side-effect-free call of ``serverAnswers(_:)``.
    static let probePath = "/v1/agent/ping"
}
