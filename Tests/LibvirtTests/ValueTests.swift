import Libvirt
import Testing

/// Value types of the wrapper: error codes, versions, states, job statistics.
@Suite struct ValueTests {
    @Test func codesDescribeThemselvesByNameOrNumber() {
        #expect(LibvirtError.Code.checkpointInconsistent.description == "checkpointInconsistent(109)")
        #expect(LibvirtError.Code.noDomain.description == "noDomain(42)")
        #expect(LibvirtError.Code(rawValue: 12345).description == "code 12345")
        // A code from the wire equals the named constant: callers match on `.noDomain`, libvirt sends 42.
        #expect(LibvirtError.Code(rawValue: 42) == .noDomain)
        #expect(LibvirtError.Code(rawValue: 103) != .noDomain)
    }

    @Test func errorDescriptionCarriesEverything() {
        let error = LibvirtError(
            code: .noCheckpoint, domain: 10, message: "no domain checkpoint with matching name 'c9'",
            operation: "virDomainCheckpointLookupByName", subject: "checkpoint 'c9' of domain 'web1'")
        #expect(
            error.description
                == "virDomainCheckpointLookupByName failed (checkpoint 'c9' of domain 'web1'): "
                + "no domain checkpoint with matching name 'c9' [libvirt noCheckpoint(103), domain 10]")
        let bare = LibvirtError(code: .init(rawValue: 500), message: "m", operation: "virX")
        #expect(bare.description == "virX failed: m [libvirt code 500, domain 0]")
    }

    @Test(arguments: [
        (UInt(9_000_000), Version(major: 9, minor: 0, micro: 0), "9.0.0"),
        (7_006_000, Version(major: 7, minor: 6, micro: 0), "7.6.0"),
        (10_010_003, Version(major: 10, minor: 10, micro: 3), "10.10.3"),
        (8_000_999, Version(major: 8, minor: 0, micro: 999), "8.0.999"),
        (2, Version(major: 0, minor: 0, micro: 2), "0.0.2"),
    ])
    func decodesLibvirtVersionNumbers(encoded: UInt, expected: Version, text: String) {
        #expect(Version(encoded: encoded) == expected)
        #expect(Version(encoded: encoded).description == text)
    }

    @Test func versionsCompareComponentWise() {
        #expect(Version(major: 6, minor: 10) < Version(major: 7, minor: 0))
        #expect(Version(major: 7, minor: 6) > Version(major: 7, minor: 5, micro: 999))
        #expect(Version(major: 9, minor: 0, micro: 1) > Version(major: 9, minor: 0))
        // Not string order: 10.0 is newer than 9.10.
        #expect(Version(encoded: 10_000_000) > Version(encoded: 9_010_000))
        #expect([Version(major: 8, minor: 1), Version(major: 6, minor: 0)].max() == Version(major: 8, minor: 1))
    }

    @Test(arguments: [
        (DomainState.running, true), (.blocked, true), (.paused, true), (.shuttingDown, true), (.suspended, true),
        (.noState, false), (.shutOff, false), (.crashed, false),
    ])
    func domainStateActivity(state: DomainState, isActive: Bool) {
        #expect(state.isActive == isActive)
    }

    @Test func jobStatsRecogniseABackupJob() {
        let backup = JobStats(type: .unbounded, fields: ["operation": .int(9), "disk_total": .uint(1 << 30)])
        #expect(backup.isActive)
        #expect(backup.isBackup)
        #expect(backup.operation == 9)
        #expect(backup.fields["disk_total"]?.unsignedValue == 1 << 30)

        // Same operation as an unsigned parameter, and a finished job.
        let finished = JobStats(type: .completed, fields: ["operation": .uint(9)])
        #expect(!finished.isActive)
        #expect(finished.isBackup)

        let migration = JobStats(type: .bounded, fields: ["operation": .int(5)])
        #expect(migration.isActive)
        #expect(!migration.isBackup)

        let none = JobStats(type: .none, fields: [:])
        #expect(!none.isActive)
        #expect(none.operation == nil)
        #expect(!none.isBackup)

        #expect(JobStats.Value.int(-1).unsignedValue == nil)
        #expect(JobStats.Value.string("9").unsignedValue == nil)
    }
}
