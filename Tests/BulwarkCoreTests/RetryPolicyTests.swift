import BulwarkCore
import Foundation
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

@Suite struct ThrottleTests {
    @Test func ratesAndWindows() throws {
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        func at(_ hour: Int, _ minute: Int) -> Date {
            utc.date(from: DateComponents(year: 2026, month: 12, day: 1, hour: hour, minute: minute))!
        }
        let always = try Throttle(parsing: "50M")
        #expect(always.bytesPerSecond == 50 << 20 && always.limit(at: at(3, 0), calendar: utc) == 50 << 20)
        #expect(always.description == "50M")
        let office = try Throttle(parsing: "10M@08:00-18:00")
        #expect(office.limit(at: at(8, 0), calendar: utc) == 10 << 20)
        #expect(office.limit(at: at(17, 59), calendar: utc) == 10 << 20)
        #expect(office.limit(at: at(18, 0), calendar: utc) == nil && office.limit(at: at(7, 59), calendar: utc) == nil)
        let again = try Throttle(parsing: office.description)
        #expect(office.description == "10M@08:00-18:00" && again == office)
        let night = try Throttle(parsing: "1G@22:00-06:00")
        #expect(night.limit(at: at(23, 0), calendar: utc) != nil && night.limit(at: at(5, 0), calendar: utc) != nil)
        #expect(night.limit(at: at(12, 0), calendar: utc) == nil)
    }

    @Test func badThrottlesSayWhatIsWrong() {
        for text in ["", "fast", "10MB", "10K", "10M@8-18", "10M@08:00", "10M@08:00-08:00", "10M@25:00-26:00"] {
            #expect(throws: ValidationError.self, "\(text)") { try Throttle(parsing: text) }
        }
        do {
            _ = try Throttle(parsing: "10M@08:00")
        } catch {
            #expect("\(error)".contains("--throttle") && "\(error)".contains("HH:MM-HH:MM"))
        }
    }
}
