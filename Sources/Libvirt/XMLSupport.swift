import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A problem reading XML that libvirt or a caller handed over.
public struct XMLFormatError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension XMLElement {
    /// Parses `xml` and returns its root element, requiring the root to be named `rootName`.
    static func root(of xml: String, named rootName: String) throws(XMLFormatError) -> XMLElement {
        let document: XMLDocument
        do {
            document = try XMLDocument(xmlString: xml, options: [])
        } catch {
            throw XMLFormatError("not well-formed XML: \(error)")
        }
        guard let root = document.rootElement() else { throw XMLFormatError("XML without a root element") }
        guard root.name == rootName else {
            throw XMLFormatError("expected <\(rootName)> as the root element, found <\(root.name ?? "")>")
        }
        return root
    }

    func attribute(_ name: String) -> String? {
        attribute(forName: name)?.stringValue
    }

    func child(_ name: String) -> XMLElement? {
        elements(forName: name).first
    }

    func childText(_ name: String) -> String? {
        child(name)?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Creates `<name attr='value' ...>` with attributes in the given order; values are escaped by Foundation.
    static func make(_ name: String, _ attributes: KeyValuePairs<String, String> = [:], text: String? = nil)
        -> XMLElement
    {
        let element = XMLElement(name: name, stringValue: text)
        for (key, value) in attributes {
            element.addAttribute(XMLNode.attribute(withName: key, stringValue: value) as! XMLNode)
        }
        return element
    }

    @discardableResult
    func append(_ child: XMLElement) -> XMLElement {
        addChild(child)
        return child
    }

    var compactXML: String { xmlString(options: []) }
}
