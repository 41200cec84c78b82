import BulwarkCore
import Foundation
import Testing

@Suite struct StateTests {
    /// Raw values are stored in catalogs and manifests; a changed one would make old data unreadable.
    @Test func rawValuesAreStable() {
        #expect(SyncKind.allCases.map(\.rawValue) == ["full", "incremental", "consistency-check", "express-full", "seed"])
        #expect(Consistency.allCases.map(\.rawValue) == ["crash-consistent", "application-consistent"])
        #expect(RecoveryPointState.allCases.map(\.rawValue) == ["committed", "verified", "damaged"])
        #expect(JobState.allCases.map(\.rawValue)
            == ["queued", "running", "succeeded", "succeeded-with-warnings", "failed", "cancelled"])
        #expect(JobPhase.allCases.map(\.rawValue) == ["snapshot", "transfer", "commit"])
        #expect(JobLogLevel.allCases.map(\.rawValue) == ["debug", "info", "warning", "error"])
        #expect(AlertSeverity.allCases.map(\.rawValue) == ["information", "warning", "critical"])
        #expect(CheckpointState.allCases.map(\.rawValue) == ["current", "superseded", "invalid"])
        #expect(QuiesceMode.allCases.map(\.rawValue) == ["auto", "required", "never"])
        #expect(JobKind.sync.rawValue == "sync")
        #expect(VMState.shutOff.rawValue == "shut-off")
    }

    @Test func encodeAsTheirRawValues() throws {
        let data = try JSONEncoder().encode([JobState.succeededWithWarnings])
        #expect(String(decoding: data, as: UTF8.self) == #"["succeeded-with-warnings"]"#)
        #expect(try JSONDecoder().decode([SyncKind].self, from: Data(#"["consistency-check"]"#.utf8)) == [.consistencyCheck])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([SyncKind].self, from: Data(#"["differential"]"#.utf8)) }
    }

    @Test func openSetsKeepUnknownValues() throws {
        let kinds = try JSONDecoder().decode([JobKind].self, from: Data(#"["sync","seed-from-media"]"#.utf8))
        #expect(kinds == [.sync, JobKind(rawValue: "seed-from-media")])
        #expect(String(decoding: try JSONEncoder().encode(kinds), as: UTF8.self) == #"["sync","seed-from-media"]"#)
        #expect(AlertKind.syncFailed == "sync-failed")
    }

    @Test func jobStateMachine() {
        #expect(JobState.queued.canMove(to: .running))
        #expect(JobState.queued.canMove(to: .cancelled))
        #expect(JobState.queued.canMove(to: .failed))
        #expect(!JobState.queued.canMove(to: .succeeded))
        #expect(JobState.running.canMove(to: .running))
        for end in [JobState.succeeded, .succeededWithWarnings, .failed, .cancelled] {
            #expect(JobState.running.canMove(to: end))
            #expect(end.isFinished)
            for next in JobState.allCases { #expect(!end.canMove(to: next)) }
        }
        #expect(!JobState.running.canMove(to: .queued))
        #expect(!JobState.queued.isFinished && !JobState.running.isFinished)
    }

    @Test func severitiesAndLevelsAreOrdered() {
        #expect(AlertSeverity.information < .warning && AlertSeverity.warning < .critical)
        #expect(JobLogLevel.debug < .error)
    }
}
