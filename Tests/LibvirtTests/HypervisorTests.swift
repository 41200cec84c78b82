import Foundation
import Libvirt
import Testing

/// `Hypervisor`: the async owner of a connection, and its lifecycle event stream.
@Suite struct HypervisorTests {
    @Test func runReturnsSendableValuesFromTheConnection() async throws {
        let hypervisor = try await Hypervisor.open(uri: TestDriver.uri)
        #expect(hypervisor.uri == TestDriver.uri)
        let domains = try await hypervisor.run { try $0.listDomains() }
        #expect(domains.contains { $0.name == TestDriver.stockDomainName && $0.state == .running })
        let description = try await hypervisor.run { try $0.domain(named: TestDriver.stockDomainName).description() }
        #expect(description.uuid == TestDriver.stockDomainUUID)
    }

    @Test func openingABadURIThrowsLibvirtError() async {
        let error = await #expect(throws: LibvirtError.self) { try await Hypervisor.open(uri: "bogus:///nowhere") }
        #expect(error?.operation == "virConnectOpen")
    }

    /// Errors are read from libvirt's per-thread last error; calls racing on one connection must each get their own.
    @Test func concurrentCallsKeepTheirOwnErrors() async throws {
        let hypervisor = try await Hypervisor.open(uri: TestDriver.uri)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<32 {
                group.addTask {
                    if index.isMultiple(of: 2) {
                        // Libvirt names the checkpoint in its own message, so a mixed-up last error would show.
                        let name = "missing-\(index)"
                        let error = await #expect(throws: LibvirtError.self) {
                            try await hypervisor.run { connection in
                                try connection.domain(named: TestDriver.stockDomainName).checkpoint(named: name).name
                            }
                        }
                        #expect(error?.code == .noCheckpoint)
                        #expect(error?.message.contains("'\(name)'") == true, "\(String(describing: error))")
                    } else {
                        let name = try await hypervisor.run { try $0.domain(named: TestDriver.stockDomainName).name }
                        #expect(name == TestDriver.stockDomainName)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func lifecycleEventsFollowADomain() async throws {
        let hypervisor = try await Hypervisor.open(uri: TestDriver.uri)
        let events = try await hypervisor.lifecycleEvents()
        let name = TestDriver.uniqueName("events")
        let uuid = UUID().uuidString.lowercased()
        try await hypervisor.run { connection in
            let domain = try connection.defineDomain(xml: TestDriver.domainXML(name: name, uuid: uuid))
            try domain.start()
            try domain.destroy()
        }
        // Other suites define domains on the same shared test state in parallel; only this domain's events count.
        let seen = try await firstEvents(3, of: name, in: events)
        #expect(seen.map(\.kind) == [.defined, .started, .stopped])
        #expect(seen.allSatisfy { $0.domainUUID == uuid })
        // VIR_DOMAIN_EVENT_STOPPED_DESTROYED.
        #expect(seen.last?.detail == 1)
    }

    /// Once its consumer goes away, the stream deregisters and stops keeping the hypervisor alive.
    @Test func droppingTheEventStreamReleasesTheHypervisor() async throws {
        weak var weakHypervisor: Hypervisor?
        do {
            let hypervisor = try await Hypervisor.open(uri: TestDriver.uri)
            weakHypervisor = hypervisor
            let events = try await hypervisor.lifecycleEvents()
            let name = TestDriver.uniqueName("drop")
            try await hypervisor.run { connection in
                _ = try connection.defineDomain(xml: TestDriver.domainXML(name: name))
            }
            #expect(try await firstEvents(1, of: name, in: events).map(\.kind) == [.defined])
        }
        try await waitUntil("the hypervisor is released") { weakHypervisor == nil }
    }
}

/// How long a test waits for something that happens asynchronously before it fails.
private let patience: Duration = .seconds(10)

/// The first `count` events of the domain called `name`; fails after ``patience`` rather than hanging.
func firstEvents(_ count: Int, of name: String, in events: AsyncStream<DomainEvent>) async throws -> [DomainEvent] {
    try await withThrowingTaskGroup(of: [DomainEvent]?.self) { group in
        group.addTask {
            var seen: [DomainEvent] = []
            for await event in events where event.domainName == name {
                seen.append(event)
                if seen.count == count { return seen }
            }
            return seen
        }
        group.addTask {
            try await Task.sleep(for: patience)
            return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        let seen = try #require(first, "no \(count) events for \(name) within \(patience)")
        try #require(seen.count == count, "the event stream ended after \(seen.count) events for \(name)")
        return seen
    }
}

/// Polls `condition` until it holds; fails after ``patience``.
func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + patience
    while !condition() {
        try #require(clock.now < deadline, "\(what) did not happen within \(patience)")
        try await Task.sleep(for: .milliseconds(10))
    }
}
