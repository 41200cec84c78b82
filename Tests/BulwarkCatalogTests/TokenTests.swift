import BulwarkCatalog
import BulwarkCore
import Foundation
import Testing

@Suite struct TokenTests {
    @Test func serverIdentityIsMadeOnceAndKept() async throws {
        try await withCatalog { catalog, _ in
            let first = try await catalog.serverIdentity(now: t0)
            #expect(first.createdAt == t0)
            #expect(try await catalog.serverIdentity(now: t0.addingTimeInterval(60)) == first)
        }
    }

    @Test func adminTokensVerifyByDigest() async throws {
        try await withCatalog { catalog, _ in
            try await catalog.addAdminToken(digest(1), label: "data-dir", now: t0)
            try await catalog.addAdminToken(digest(2), label: "alice", now: t0)
            #expect(try await catalog.verifyAdminToken(digest(1)) == "data-dir")
            #expect(try await catalog.verifyAdminToken(digest(2)) == "alice")
            await expectCatalogError(.unauthorized, "admin token is not valid") {
                try await catalog.verifyAdminToken(digest(3))
            }
            await expectCatalogError(.alreadyExists) { try await catalog.addAdminToken(digest(1), label: "again") }
        }
    }

    @Test func rotatingTheDataDirectoryTokenRevokesTheOldOne() async throws {
        try await withCatalog { catalog, _ in
            try await catalog.replaceAdminTokens(label: "data-dir", with: digest(1), now: t0)
            try await catalog.addAdminToken(digest(2), label: "alice", now: t0)
            #expect(try await catalog.replaceAdminTokens(label: "data-dir", with: digest(1)) == 0)
            #expect(try await catalog.replaceAdminTokens(label: "data-dir", with: digest(3)) == 1)
            await expectCatalogError(.unauthorized) { try await catalog.verifyAdminToken(digest(1)) }
            #expect(try await catalog.verifyAdminToken(digest(3)) == "data-dir")
            #expect(try await catalog.verifyAdminToken(digest(2)) == "alice")
        }
    }

    @Test func digestsMustBe32Bytes() {
        #expect(TokenDigest([UInt8](repeating: 0, count: 31)) == nil)
        #expect(TokenDigest([UInt8](repeating: 0, count: 33)) == nil)
        #expect(TokenDigest([UInt8](repeating: 0, count: 32)) != nil)
        #expect(digest(1).description.count == 9)
    }

    @Test func enrollmentTokenIsSingleUse() async throws {
        try await withCatalog { catalog, _ in
            let expiry = t0.addingTimeInterval(3600)
            let created = try await catalog.createEnrollmentToken(digest(7), host: "kvm1", expiresAt: expiry, now: t0)
            #expect(created.expiresAt == expiry && created.usedAt == nil)
            let used = try await catalog.consumeEnrollmentToken(digest(7), host: "kvm1", now: t0.addingTimeInterval(60))
            #expect(used.usedByHost == "kvm1")
            #expect(used.usedAt == t0.addingTimeInterval(60))
            await expectCatalogError(.tokenUsed, "already used by host 'kvm1'", "single use") {
                try await catalog.consumeEnrollmentToken(digest(7), host: "kvm2", now: t0.addingTimeInterval(120))
            }
        }
    }

    @Test func expiredUnknownAndBadTokensAreRefusedDistinctly() async throws {
        try await withCatalog { catalog, _ in
            try await catalog.createEnrollmentToken(digest(8), host: "kvm1", expiresAt: t0.addingTimeInterval(300), now: t0)
            await expectCatalogError(.tokenExpired, "expired", "bulwark agent token") {
                try await catalog.consumeEnrollmentToken(digest(8), host: "kvm1", now: t0.addingTimeInterval(300))
            }
            await expectCatalogError(.unauthorized, "not known") {
                try await catalog.consumeEnrollmentToken(digest(9), host: "kvm1", now: t0)
            }
            await expectCatalogError(.invalid, "expire in the future") {
                try await catalog.createEnrollmentToken(digest(10), host: "kvm1", expiresAt: t0, now: t0)
            }
            await expectCatalogError(.alreadyExists) {
                try await catalog.createEnrollmentToken(digest(8), host: "kvm1", expiresAt: t0.addingTimeInterval(60), now: t0)
            }
        }
    }

    @Test func enrollingSpendsTheTokenAndRecordsTheAgentTogether() async throws {
        try await withCatalog { catalog, _ in
            try await catalog.createEnrollmentToken(digest(11), host: "kvm1", expiresAt: t0.addingTimeInterval(600), now: t0)
            let registration = AgentRegistration(host: "kvm1", certificateFingerprint: "aa:bb", certificatePEM: "PEM")
            let agent = try await catalog.enrollAgent(registration, token: digest(11), now: t0)
            #expect(agent.host == "kvm1" && agent.enrolledAt == t0 && agent.vmCount == 0)
            let other = AgentRegistration(host: "kvm2", certificateFingerprint: "cc:dd", certificatePEM: "PEM")
            await expectCatalogError(.tokenUsed) { try await catalog.enrollAgent(other, token: digest(11), now: t0) }
            await expectCatalogError(.unauthorized) { try await catalog.enrollAgent(other, token: digest(12), now: t0) }
            #expect(try await catalog.agents().map(\.host) == ["kvm1"])
        }
    }

    @Test func aTokenEnrollsOnlyItsOwnHostAndReplacesOnlyWhenIssuedToReenroll() async throws {
        try await withCatalog { catalog, _ in
            let expiry = t0.addingTimeInterval(600)
            try await catalog.createEnrollmentToken(digest(20), host: "kvm1", expiresAt: expiry, now: t0)
            let intruder = AgentRegistration(host: "kvm2", certificateFingerprint: "ee", certificatePEM: "PEM")
            await expectCatalogError(.tokenWrongHost, "issued for host 'kvm1', not 'kvm2'") {
                try await catalog.enrollAgent(intruder, token: digest(20), now: t0)
            }
            // Host names compare ignoring case, as the agent table does.
            let kvm1 = AgentRegistration(host: "KVM1", certificateFingerprint: "aa", certificatePEM: "PEM")
            try await catalog.enrollAgent(kvm1, token: digest(20), now: t0)

            await expectCatalogError(.conflict, "--reenroll") {
                try await catalog.createEnrollmentToken(digest(21), host: "kvm1", expiresAt: expiry, now: t0)
            }
            await expectCatalogError(.notFound, "nothing to re-enroll") {
                try await catalog.createEnrollmentToken(digest(22), host: "kvm3", reenroll: true, expiresAt: expiry, now: t0)
            }
            // A plain token made while the host was not enrolled cannot replace it once it is.
            try await catalog.createEnrollmentToken(digest(23), host: "kvm4", expiresAt: expiry, now: t0)
            try await catalog.createEnrollmentToken(digest(24), host: "kvm4", expiresAt: expiry, now: t0)
            try await catalog.enrollAgent(
                AgentRegistration(host: "kvm4", certificateFingerprint: "b1", certificatePEM: "PEM"), token: digest(23), now: t0)
            await expectCatalogError(.tokenWrongHost, "not a re-enrollment token") {
                try await catalog.enrollAgent(
                    AgentRegistration(host: "kvm4", certificateFingerprint: "b2", certificatePEM: "PEM"), token: digest(24), now: t0)
            }
            #expect(try await catalog.agent(host: "kvm4").certificateFingerprint == "b1")
            #expect(try await catalog.alerts().isEmpty)

            try await catalog.createEnrollmentToken(digest(25), host: "kvm4", reenroll: true, expiresAt: expiry, now: t0)
            try await catalog.enrollAgent(
                AgentRegistration(host: "kvm4", certificateFingerprint: "b3", certificatePEM: "PEM"), token: digest(25), now: t0)
            #expect(try await catalog.agent(host: "kvm4").certificateFingerprint == "b3")
            #expect(try await catalog.agent(certificateFingerprint: "b1") == nil, "the old certificate maps to no host")
            #expect(try await catalog.alerts().map(\.kind) == [.agentReenrolled])
        }
    }
}
