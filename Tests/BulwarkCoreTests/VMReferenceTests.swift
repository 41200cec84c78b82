import BulwarkCore
import Foundation
import Testing

@Suite struct VMReferenceTests {
    @Test func parsesTheThreeForms() throws {
        #expect(try VMReference(parsing: "kvm1/web1") == .hostAndName(host: "kvm1", name: "web1"))
        #expect(try VMReference(parsing: "web1") == .name("web1"))
        let uuid = UUID()
        #expect(try VMReference(parsing: uuid.uuidString) == .uuid(uuid))
        #expect(try VMReference(parsing: uuid.uuidString.lowercased()) == .uuid(uuid))
        #expect(try VMReference(parsing: "  web1 ") == .name("web1"))
    }

    @Test func printsTheFormTheCLIAccepts() throws {
        let uuid = UUID()
        #expect(VMReference.uuid(uuid).description == uuid.uuidString.lowercased())
        for text in ["kvm1/web1", "web1", uuid.uuidString.lowercased()] {
            #expect(try VMReference(parsing: text).description == text)
            let data = try JSONEncoder().encode(try VMReference(parsing: text))
            #expect(try JSONDecoder().decode(VMReference.self, from: data) == (try VMReference(parsing: text)))
        }
    }

    @Test(arguments: [
        ("", "must not be empty"), ("   ", "must not be empty"), ("/web1", "both a host and a name"),
        ("kvm1/", "both a host and a name"), ("a/b/c", "at most one '/'"),
    ])
    func refusesMalformedReferences(_ text: String, _ rule: String) {
        #expect {
            try VMReference(parsing: text)
        } throws: { error in
            (error as? ValidationError).map { $0.rule.contains(rule) && $0.value == text } ?? false
        }
    }
}
