import BulwarkAgent
import Foundation
import TestSupport
import Testing

/// Doctor's host-wide judgements: guest agent channel, scratch space, enrollment.
@Suite struct HostCheckTests {
    static let gib: UInt64 = 1 << 30

    @Test func aGuestAgentChannelIsFound() {
        let xml = """
            <domain type='kvm'><name>web1</name><devices>
              <channel type='unix'><source mode='bind'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
            </devices></domain>
            """
        #expect(HostCheck.guestAgent(domain: "web1", xml: xml).status == .ok)
    }

    @Test func aMissingGuestAgentChannelWarnsWithTheSnippetToAdd() {
        let xml = "<domain type='kvm'><name>web1</name><devices><channel type='spicevmc'/></devices></domain>"
        let check = HostCheck.guestAgent(domain: "web1", xml: xml)
        #expect(check.status == .warn)
        #expect(check.fix?.contains("<target type='virtio' name='org.qemu.guest_agent.0'/>") == true)
        #expect(check.fix?.contains("virsh edit web1") == true)
    }

    @Test func scratchSpaceWantsATenthOfTheLargestDiskAndAtLeastOneGiB() {
        #expect(HostCheck.scratchThreshold(largestDisk: 0) == Self.gib)
        #expect(HostCheck.scratchThreshold(largestDisk: 5 * Self.gib) == Self.gib)
        #expect(HostCheck.scratchThreshold(largestDisk: 100 * Self.gib) == 10 * Self.gib)

        let enough = HostCheck.scratchSpace(
            directory: "/s", measuredAt: "/s", available: 10 * Self.gib, largestDisk: 100 * Self.gib)
        #expect(enough.status == .ok)
        let short = HostCheck.scratchSpace(
            directory: "/s", measuredAt: "/s", available: 9 * Self.gib, largestDisk: 100 * Self.gib)
        #expect(short.status == .warn)
        #expect(short.message.contains("less than 10.0 GiB"))
        #expect(short.fix?.contains("--scratch-dir") == true)
    }

    @Test func aScratchDirectoryThatIsMissingWarnsAndOneThatCannotBeMeasuredFails() {
        let missing = HostCheck.scratchSpace(
            directory: "/var/lib/x/scratch", measuredAt: "/var/lib", available: 50 * Self.gib, largestDisk: 0)
        #expect(missing.status == .warn)
        #expect(missing.message.contains("does not exist yet"))
        #expect(missing.fix?.contains("mkdir -p -m 0700 /var/lib/x/scratch") == true)
        let unmeasured = HostCheck.scratchSpace(directory: "/s", measuredAt: "/s", available: nil, largestDisk: 0)
        #expect(unmeasured.status == .fail)
    }

    @Test func freeSpaceIsMeasuredAtTheNearestExistingDirectory() async throws {
        let directory = try TemporaryDirectory("scratch")
        defer { directory.cleanUp() }
        let space = await HostCheck.freeSpace(for: directory.file("not/yet"))
        #expect(space.measuredAt == directory.path)
        #expect((space.available ?? 0) > 0)
    }

    @Test func anUnenrolledHostWarnsAndADamagedIdentityFails() async throws {
        let directory = try TemporaryDirectory("agent-doctor")
        defer { directory.cleanUp() }
        let none = await HostCheck.enrollment(stateDirectory: directory.path)
        #expect(none.map(\.status) == [.warn])
        #expect(none.first?.fix?.contains("bulwark-agent enroll --server URL --token TOKEN") == true)

        try "{}".write(toFile: directory.file("agent.json"), atomically: true, encoding: .utf8)
        let damaged = await HostCheck.enrollment(stateDirectory: directory.path)
        #expect(damaged.map(\.status) == [.fail])
    }

    @Test func aRemovedAgentIsRefusedAndThatFails() async throws {
        try await withEnrollmentServer { server, state in
            try await Enrollment(
                server: server.url, token: try server.token().token, host: "kvm1", stateDirectory: state.path
            ).run()
            try server.bulwark(["agent", "remove", "kvm1"])
            let checks = await HostCheck.enrollment(stateDirectory: state.path)
            #expect(checks.map(\.status) == [.ok, .fail])
            #expect(checks.last?.message.contains("refused this agent's certificate") == true, "\(checks)")
            #expect(checks.last?.fix?.contains("--force") == true)
        }
    }

    @Test func aServerThatIsAwayFails() async throws {
        try await withEnrollmentServer { server, state in
            try await Enrollment(
                server: server.url, token: try server.token().token, host: "kvm1", stateDirectory: state.path
            ).run()
            server.process.kill()
            let checks = await HostCheck.enrollment(stateDirectory: state.path)
            #expect(checks.map(\.status) == [.ok, .fail])
            #expect(checks.last?.message.contains("does not answer") == true)
        }
    }
}

/// libguestfs is optional on a host: doctor reports which file systems item-level copies read, and never fails on it.
@Suite struct ItemRecoveryCheckTests {
    @Test func libguestfsPresentOrNotIsReportedNotFailed() {
        let present = HostCheck.itemRecovery(libguestfsUnavailable: nil)
        #expect(present.status == .ok && present.message.contains("LVM, XFS and NTFS"))
        let absent = HostCheck.itemRecovery(libguestfsUnavailable: "libguestfs is not installed here (libguestfs.so.0: cannot open shared object file); install libguestfs-tools")
        #expect(absent.status == .ok && absent.message.contains("ext2/3/4 only") && absent.message.contains("install libguestfs-tools"))
    }
}
