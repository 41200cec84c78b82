internal import CLibvirt
import Foundation

extension Domain {
    /// Begins a pull-mode backup job: QEMU exports the listed disks over NBD on the definition's unix socket.
    ///
    /// `checkpoint`, when given, is created atomically with the start of the job, so the next incremental backup
    /// covers exactly the writes that happen after this one's point in time. With `quiesce` the guest's filesystems
    /// are frozen through the guest agent while the job starts (see ``whileFrozen(_:)``). The job lasts until
    /// ``abortJob()``.
    public func beginBackup(
        _ definition: BackupDefinition, checkpoint: CheckpointDefinition? = nil, quiesce: Bool = false
    ) throws(LibvirtError) {
        // Everything that can refuse the request is checked before the guest is frozen for it.
        try definition.validate(subject: subject)
        try checkpoint?.validate(subject: subject)
        // Libvirt would wait 30 s for the job lock a running backup holds and then fail with a lock timeout;
        // asking first gives the caller an immediate error that says what is going on.
        // A driver without job statistics cannot tell; libvirt's own check then decides.
        if let running = try? jobStats(), running.isActive {
            throw LibvirtError(
                code: .operationInvalid,
                message: running.isBackup
                    ? "a backup job is already running on this domain; end it (abortJob) before beginning another"
                    : "another job (operation \(running.operation ?? -1)) is running on this domain; wait for it to end",
                operation: "virDomainBackupBegin", subject: subject)
        }
        let begin = { () throws(LibvirtError) in
            guard virDomainBackupBegin(self.handle, definition.xml, checkpoint?.xml, 0) == 0 else {
                let about = definition.incremental.map { "incremental from checkpoint '\($0)'" } ?? "full"
                throw LibvirtError.last("virDomainBackupBegin", subject: "\(about) backup of \(self.subject)")
            }
        }
        if quiesce { try whileFrozen(begin) } else { try begin() }
    }

    /// The running backup job's XML: export names, dirty-bitmap export names, scratch files.
    public func backupDescription() throws(LibvirtError) -> BackupDescription {
        guard let xml = virDomainBackupGetXMLDesc(handle, 0) else {
            throw LibvirtError.last("virDomainBackupGetXMLDesc", subject: subject)
        }
        defer { free(xml) }
        let text = String(cString: xml)
        do {
            return try BackupDescription(xml: text)
        } catch {
            throw LibvirtError(
                code: .xmlError, message: "libvirt returned backup XML Bulwark cannot read: \(error)",
                operation: "virDomainBackupGetXMLDesc", subject: subject)
        }
    }

    /// Statistics of the domain's active job (or of the last completed one when `completed` is set).
    public func jobStats(completed: Bool = false) throws(LibvirtError) -> JobStats {
        var type: Int32 = 0
        var params: virTypedParameterPtr?
        var count: Int32 = 0
        let flags = completed ? VIR_DOMAIN_JOB_STATS_COMPLETED.rawValue : 0
        guard virDomainGetJobStats(handle, &type, &params, &count, flags) == 0 else {
            throw LibvirtError.last("virDomainGetJobStats", subject: subject)
        }
        defer { virTypedParamsFree(params, count) }
        var fields: [String: JobStats.Value] = [:]
        if let params {
            for index in 0..<Int(count) {
                let param = params[index]
                let name = withUnsafeBytes(of: param.field) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                fields[name] = JobStats.Value(param)
            }
        }
        return JobStats(type: JobStats.JobType(rawValue: type) ?? .none, fields: fields)
    }

    /// Ends the domain's active job. For a pull-mode backup this is the normal end: the NBD export closes and
    /// libvirt removes the scratch files it created.
    ///
    /// Libvirt returns once QEMU was told to cancel, before the job is gone; a new job begun at that moment would be
    /// refused. With `waitForEnd` (the default) the call returns only when the domain has no job left, polling every
    /// 50 ms on the caller's thread for at most `timeout` seconds.
    public func abortJob(waitForEnd: Bool = true, timeout: Double = 60) throws(LibvirtError) {
        guard virDomainAbortJob(handle) == 0 else { throw LibvirtError.last("virDomainAbortJob", subject: subject) }
        guard waitForEnd else { return }
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while try jobStats().isActive {
            guard ContinuousClock.now < deadline else {
                throw LibvirtError(
                    code: .operationTimeout,
                    message: "the job was told to end but is still running after \(Int(timeout)) s; check QEMU's state",
                    operation: "virDomainAbortJob", subject: subject)
            }
            usleep(50_000)
        }
    }
}
