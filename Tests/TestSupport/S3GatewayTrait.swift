public import Testing

/// Runs each test of a suite alone among every suite that uses the S3 testbed: some stop or freeze the one gateway
/// of the test process, which any test running beside them would take for a failure of its own.
public struct S3GatewayTrait: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        // Suites get their scope once, tests each: only tests take the gate, or a suite would hold it from its tests.
        guard !test.isSuite else { return try await function() }
        await S3GatewayGate.shared.acquire()
        do {
            try await function()
        } catch {
            await S3GatewayGate.shared.release()
            throw error
        }
        await S3GatewayGate.shared.release()
    }
}

extension Trait where Self == S3GatewayTrait {
    /// One test at a time on the S3 testbed's gateway, across suites.
    public static var s3Gateway: Self { S3GatewayTrait() }
}

/// First come, first served: one holder at a time.
actor S3GatewayGate {
    static let shared = S3GatewayGate()
    private var held = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        guard held else {
            held = true
            return
        }
        // Ownership passes straight from `release` to the first waiter: `held` stays true in between.
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty {
            held = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}
