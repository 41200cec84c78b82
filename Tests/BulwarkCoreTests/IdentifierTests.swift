import BulwarkCore
import Foundation
import Testing

@Suite struct IdentifierTests {
    @Test func idsAreVersion7AndCarryTheirTime() throws {
        let date = Date(timeIntervalSince1970: 1_790_000_000.123)
        let id = JobID.generate(at: date)
        let text = id.description
        #expect(text == text.lowercased())
        #expect(text.count == 36)
        #expect(Array(text)[14] == "7")
        #expect(["8", "9", "a", "b"].contains(Array(text)[19]))
        #expect(abs(id.timestamp.timeIntervalSince1970 - 1_790_000_000.123) < 0.001)
    }

    @Test func idsSortByCreationTime() {
        var generator = SystemRandomNumberGenerator()
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        let ids = (0..<200).map { RecoveryPointID.generate(at: start.addingTimeInterval(Double($0)), using: &generator) }
        #expect(ids.shuffled().sorted() == ids)
        #expect(ids.map(\.description).shuffled().sorted() == ids.map(\.description))
        #expect(Set(ids).count == 200)
    }

    @Test func sameMillisecondIdsDiffer() {
        let date = Date()
        let ids = (0..<1000).map { _ in AlertID.generate(at: date) }
        #expect(Set(ids).count == 1000)
    }

    @Test func parsesAndEncodesAsText() throws {
        let id = JobID.generate()
        #expect(try JobID(parsing: id.description) == id)
        #expect(try JobID(parsing: id.description.uppercased()) == id)
        #expect(JobID(id.description) == id)
        let data = try JSONEncoder().encode(id)
        #expect(String(decoding: data, as: UTF8.self) == "\"\(id.description)\"")
        #expect(try JSONDecoder().decode(JobID.self, from: data) == id)
    }

    @Test func refusesMalformedIds() {
        #expect(throws: ValidationError.self) { try JobID(parsing: "not-an-id") }
        #expect(throws: ValidationError.self) { try RecoveryPointID(parsing: "") }
        #expect(JobID("1234") == nil)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(JobID.self, from: Data("\"x\"".utf8)) }
    }
}
