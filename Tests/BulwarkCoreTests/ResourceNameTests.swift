import BulwarkCore
import Foundation
import Testing

@Suite struct ResourceNameTests {
    @Test(arguments: ["ab", "Gold", "gold-vms", "a1", "Tier2-Linux", String(repeating: "x", count: 50)])
    func acceptsValidNames(_ text: String) throws {
        #expect(try ResourceName(text).rawValue == text)
    }

    @Test(arguments: [
        ("a", "2–50 characters"),
        ("", "2–50 characters"),
        (String(repeating: "x", count: 51), "2–50 characters"),
        ("1gold", "start with a letter"),
        ("-gold", "start with a letter"),
        ("gold_vms", "only letters, digits and hyphens"),
        ("gold vms", "only letters, digits and hyphens"),
        ("gold/vms", "only letters, digits and hyphens"),
        ("gölden", "only letters, digits and hyphens"),
        ("éclair", "start with a letter"),
    ])
    func refusesInvalidNamesSayingWhichRule(_ text: String, _ rule: String) {
        #expect {
            try ResourceName(text, field: "group name")
        } throws: { error in
            guard let error = error as? ValidationError else { return false }
            return error.field == "group name" && error.value == text && error.rule.contains(rule)
                && error.description.contains("'\(text)'") && !error.fix.isEmpty
        }
    }

    @Test func roundTripsThroughJSONAndRefusesInvalidJSON() throws {
        let name = try ResourceName("gold")
        let data = try JSONEncoder().encode([name])
        #expect(String(decoding: data, as: UTF8.self) == #"["gold"]"#)
        #expect(try JSONDecoder().decode([ResourceName].self, from: data) == [name])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([ResourceName].self, from: Data(#"["9x"]"#.utf8)) }
        #expect(ResourceName(rawValue: "9x") == nil)
    }

    @Test func sortsIgnoringCase() throws {
        let names = try ["beta", "Alpha", "gamma"].map { try ResourceName($0) }
        #expect(names.sorted().map(\.rawValue) == ["Alpha", "beta", "gamma"])
    }
}
