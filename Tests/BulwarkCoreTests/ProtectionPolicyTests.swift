import BulwarkCore
import Foundation
import Testing

@Suite struct ProtectionPolicyTests {
    static let now = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18, a fixed moment
    static var utc: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }

    func apply(_ options: ProtectionPolicy.Options, to policy: ProtectionPolicy = .default) throws -> ProtectionPolicy {
        try policy.applying(options, now: Self.now, calendar: Self.utc)
    }

    func expectRefused(_ options: ProtectionPolicy.Options, field: String, rule: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(sourceLocation: sourceLocation) {
            try apply(options)
        } throws: { error in
            guard let error = error as? ValidationError else { return false }
            return error.field == field && error.rule.contains(rule) && error.description.contains(field)
        }
    }

    @Test func defaultsFollowMABS() throws {
        let policy = ProtectionPolicy.default
        #expect(policy.retentionDays == 5)
        #expect(policy.syncFrequency == .every15Minutes)
        #expect(policy.recoveryPointTimes.map(\.description) == ["20:00"])
        #expect(policy.days == Weekday.allCases)
        #expect(policy.expressFullTimes.map(\.description) == ["20:00"])
        #expect(policy.consistencyCheck == .ifInconsistent)
        #expect(policy.replicaCreation == .now)
        #expect(policy.quiesce == .auto)
        #expect(try apply(.init()) == policy)
    }

    @Test func appliesEveryOption() throws {
        let policy = try apply(.init(
            retentionDays: "448", syncFrequency: "before-recovery-point", recoveryPoints: "20:00,8:00,12:30",
            days: "fri,Mon,wed", expressFull: "23:00", consistencyCheck: "daily@02:00",
            replicaCreation: "at:2026-11-24T02:00", quiesce: "required"))
        #expect(policy.retentionDays == 448)
        #expect(policy.syncFrequency == .beforeRecoveryPoint)
        #expect(policy.recoveryPointTimes.map(\.description) == ["08:00", "12:30", "20:00"])
        #expect(policy.days == [.monday, .wednesday, .friday])
        #expect(policy.expressFullTimes.map(\.description) == ["23:00"])
        #expect(policy.consistencyCheck == .daily(at: try TimeOfDay(hour: 2, minute: 0)))
        #expect(policy.replicaCreation.description == "at:2026-11-24T02:00")
        #expect(policy.quiesce == .required)

        let changed = try apply(.init(retentionDays: "1", expressFull: "none", consistencyCheck: "never"), to: policy)
        #expect(changed.retentionDays == 1)
        #expect(changed.expressFullTimes.isEmpty)
        #expect(changed.consistencyCheck == .never)
        #expect(changed.syncFrequency == .beforeRecoveryPoint)
    }

    @Test func everySyncFrequencyParses() throws {
        for text in ["15m", "30m", "1h", "2h", "4h", "6h", "12h", "24h", "before-recovery-point"] {
            #expect(try SyncFrequency(parsing: text).description == text)
        }
        #expect(SyncFrequency.hourly.intervalSeconds == 3600)
        #expect(SyncFrequency.beforeRecoveryPoint.intervalSeconds == nil)
    }

    @Test func refusesOutOfRangeRetention() {
        expectRefused(.init(retentionDays: "0"), field: "--retention-days", rule: "1–448")
        expectRefused(.init(retentionDays: "449"), field: "--retention-days", rule: "1–448")
        expectRefused(.init(retentionDays: "-3"), field: "--retention-days", rule: "whole number")
        expectRefused(.init(retentionDays: "five"), field: "--retention-days", rule: "whole number")
    }

    @Test func refusesMalformedOptions() {
        expectRefused(.init(syncFrequency: "45m"), field: "--sync-frequency", rule: "must be one of")
        expectRefused(.init(recoveryPoints: "25:00"), field: "--recovery-points", rule: "hour")
        expectRefused(.init(recoveryPoints: "20:60"), field: "--recovery-points", rule: "minute")
        expectRefused(.init(recoveryPoints: "8pm"), field: "--recovery-points", rule: "HH:MM")
        expectRefused(.init(recoveryPoints: "20:00,,08:00"), field: "--recovery-points", rule: "empty item")
        expectRefused(.init(recoveryPoints: "20:00,20:00"), field: "--recovery-points", rule: "twice")
        expectRefused(.init(recoveryPoints: ""), field: "--recovery-points", rule: "empty item")
        expectRefused(.init(days: "mon,funday"), field: "--days", rule: "mon, tue")
        expectRefused(.init(days: "mon,mon"), field: "--days", rule: "twice")
        expectRefused(.init(expressFull: "20"), field: "--express-full", rule: "HH:MM")
        expectRefused(.init(consistencyCheck: "weekly"), field: "--consistency-check", rule: "daily@HH:MM")
        expectRefused(.init(consistencyCheck: "daily@2am"), field: "--consistency-check", rule: "HH:MM")
        expectRefused(.init(replicaCreation: "later"), field: "--replica-creation", rule: "now, manual")
        expectRefused(.init(replicaCreation: "at:2026-02-30T02:00"), field: "--replica-creation", rule: "day must be 01–28")
        expectRefused(.init(replicaCreation: "at:2026-13-01T02:00"), field: "--replica-creation", rule: "month")
        expectRefused(.init(replicaCreation: "at:2026-11-24 02:00"), field: "--replica-creation", rule: "YYYY-MM-DD")
        expectRefused(.init(quiesce: "sometimes"), field: "--quiesce", rule: "auto, required, never")
    }

    @Test func replicaCreationAtAClockTimeMeansItsNextOccurrence() throws {
        // `now` is 2026-11-18 19:06:40 UTC.
        let later = try ReplicaCreation(parsing: "at:23:00", now: Self.now, calendar: Self.utc)
        #expect(later.description == "at:2026-11-18T23:00")
        let tomorrow = try ReplicaCreation(parsing: "at:02:00", now: Self.now, calendar: Self.utc)
        #expect(tomorrow.description == "at:2026-11-19T02:00")
        #expect(try ReplicaCreation(parsing: "at:2028-02-29T00:00").description == "at:2028-02-29T00:00")
        #expect(throws: ValidationError.self) { try ReplicaCreation(parsing: "at:02:00") }
        #expect(try ReplicaCreation(parsing: "manual") == .manual)
        guard case .at(let moment) = tomorrow else { Issue.record("not at"); return }
        #expect(moment.date(in: Self.utc).map { Self.utc.dateComponents([.hour, .day], from: $0) }
            == DateComponents(day: 19, hour: 2))
    }

    @Test func roundTripsThroughJSONWithStableKeys() throws {
        let policy = try apply(.init(
            recoveryPoints: "08:00,20:00", days: "sat,sun", consistencyCheck: "daily@01:30",
            replicaCreation: "at:2026-12-01T03:15", quiesce: "never"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(policy), as: UTF8.self)
        #expect(json == #"{"consistencyCheck":"daily@01:30","days":["sat","sun"],"expressFullTimes":["20:00"],"quiesce":"never","recoveryPointTimes":["08:00","20:00"],"replicaCreation":"at:2026-12-01T03:15","retentionDays":5,"syncFrequency":"15m"}"#)
        #expect(try JSONDecoder().decode(ProtectionPolicy.self, from: Data(json.utf8)) == policy)
    }

    @Test func decodingFillsMissingKeysAndRefusesInvalidValues() throws {
        let partial = try JSONDecoder().decode(ProtectionPolicy.self, from: Data(#"{"retentionDays":30}"#.utf8))
        #expect(partial.retentionDays == 30)
        #expect(partial.syncFrequency == .every15Minutes)
        for bad in [#"{"retentionDays":0}"#, #"{"syncFrequency":"5m"}"#, #"{"recoveryPointTimes":[]}"#,
                    #"{"days":["mon","xyz"]}"#, #"{"quiesce":"maybe"}"#] {
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(ProtectionPolicy.self, from: Data(bad.utf8)) }
        }
    }

    @Test func initializerValidates() {
        #expect(throws: ValidationError.self) { try ProtectionPolicy(retentionDays: 0) }
        #expect(throws: ValidationError.self) { try ProtectionPolicy(recoveryPointTimes: []) }
        #expect(throws: ValidationError.self) { try ProtectionPolicy(days: []) }
    }

    @Test func timesAndDaysParse() throws {
        #expect(try TimeOfDay(parsing: "7:05").description == "07:05")
        #expect(try TimeOfDay(parsing: "23:59").minutesSinceMidnight == 1439)
        #expect(throws: ValidationError.self) { try TimeOfDay(parsing: "24:00") }
        #expect(throws: ValidationError.self) { try TimeOfDay(parsing: "123:00") }
        #expect(throws: ValidationError.self) { try TimeOfDay(hour: 1, minute: 60) }
        #expect(try Weekday.parseList("SUN,mon", field: "--days") == [.monday, .sunday])
        #expect(Weekday.sunday.calendarWeekday == 1)
        #expect(Weekday.saturday.calendarWeekday == 7)
    }
}
