import BulwarkCore
import Testing

@Suite struct RetryPolicyTests {
    @Test func waitsGrowFourfoldUpToAnHour() throws {
        let policy = try RetryPolicy(retries: 5, firstDelay: 60)
        #expect(policy.delay(beforeAttempt: 1) == nil)
        #expect((2...6).map { policy.delay(beforeAttempt: $0) } == [60, 240, 960, 3600, 3600])
        #expect(policy.delay(beforeAttempt: 7) == nil)
        #expect(RetryPolicy.none.delay(beforeAttempt: 2) == nil)
        #expect(RetryPolicy.standard.retries == 3 && RetryPolicy.standard.delay(beforeAttempt: 4) == 960)
        #expect(try RetryPolicy(retries: 10, firstDelay: 3600).delay(beforeAttempt: 11) == 3600)
    }

    @Test func badValuesSayWhatToGive() {
        #expect(throws: ValidationError.self) { try RetryPolicy(retries: -1, firstDelay: 60) }
        do {
            _ = try RetryPolicy(retries: 11, firstDelay: 60)
            Issue.record("11 retries were accepted")
        } catch {
            #expect("\(error)".contains("--retries") && "\(error)".contains("0 to 10"))
        }
        do {
            _ = try RetryPolicy(retries: 1, firstDelay: 7200)
            Issue.record("a 2-hour delay was accepted")
        } catch {
            #expect("\(error)".contains("--retry-delay") && "\(error)".contains("1 hour"))
        }
    }
}
