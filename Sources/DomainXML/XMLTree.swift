internal import CLibXML2
import Foundation

/// Strict XML reading and writing through libxml2, libvirt's own XML library.
///
/// Foundation's `XMLDocument` on Linux parses in libxml2's recovery mode (an unclosed document is accepted), expands
/// entities, and crashes on empty input; Bulwark reads XML that decides what gets backed up, so it parses strictly,
/// without loading external entities or touching the network.
package enum XMLTree {
    private static let initialized: Void = xmlInitParser()

    /// Parses `xml` and returns its root element, requiring it to be named `rootName`.
    package static func parse(_ xml: String, root rootName: String) throws(XMLFormatError) -> Element {
        _ = initialized
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue)
        let bytes = Array(xml.utf8)
        guard !bytes.isEmpty else { throw XMLFormatError("not well-formed XML: the document is empty") }
        let parsed = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                xmlReadMemory(chars.baseAddress, Int32(chars.count), nil, "UTF-8", options)
            }
        }
        guard let parsed else {
            let detail = xmlGetLastError().map { error in
                let message = error.pointee.message.map { String(cString: $0) } ?? "parse error"
                return "line \(error.pointee.line): \(message.trimmingCharacters(in: .whitespacesAndNewlines))"
            } ?? "parse error"
            xmlResetLastError()
            throw XMLFormatError("not well-formed XML: \(detail)")
        }
        let document = Document(parsed)
        // libvirt never writes a document type declaration; one in XML Bulwark reads could only declare entities,
        // whose expansion (internal or external) is how XML attacks read files or exhaust memory.
        guard parsed.pointee.intSubset == nil, parsed.pointee.extSubset == nil else {
            throw XMLFormatError("XML with a document type declaration (<!DOCTYPE>) is not accepted; send the XML libvirt wrote")
        }
        guard let rootNode = xmlDocGetRootElement(parsed) else { throw XMLFormatError("XML without a root element") }
        let root = Element(node: rootNode, document: document)
        guard root.name == rootName else {
            throw XMLFormatError("expected <\(rootName)> as the root element, found <\(root.name)>")
        }
        return root
    }

    /// Owns a parsed libxml2 document; freed when the last element that refers to it goes away.
    package final class Document {
        let pointer: xmlDocPtr
        init(_ pointer: xmlDocPtr) { self.pointer = pointer }
        deinit { xmlFreeDoc(pointer) }
    }

    /// One element of a parsed document.
    package struct Element {
        let node: xmlNodePtr
        package let document: Document

        package var name: String { node.pointee.name.map { String(cString: $0) } ?? "" }

        package func attribute(_ name: String) -> String? {
            guard let value = xmlGetProp(node, name) else { return nil }
            defer { bulwark_xml_free(value) }
            return String(cString: value)
        }

        /// Child elements called `name`, in document order.
        package func children(_ name: String) -> [Element] {
            var result: [Element] = []
            var child = node.pointee.children
            while let current = child {
                if current.pointee.type == XML_ELEMENT_NODE, current.pointee.name.map({ String(cString: $0) }) == name {
                    result.append(Element(node: current, document: document))
                }
                child = current.pointee.next
            }
            return result
        }

        package func child(_ name: String) -> Element? { children(name).first }

        /// Every child element, in document order.
        package var elements: [Element] {
            var result: [Element] = []
            var child = node.pointee.children
            while let current = child {
                if current.pointee.type == XML_ELEMENT_NODE { result.append(Element(node: current, document: document)) }
                child = current.pointee.next
            }
            return result
        }

        /// The namespace prefix of the element (`qemu` for `<qemu:commandline>`), nil for none.
        package var prefix: String? { node.pointee.ns?.pointee.prefix.map { String(cString: $0) } }

        /// Whether the element or its name is in an XML namespace (libvirt's own elements are in none).
        package var isNamespaced: Bool { node.pointee.ns != nil }

        /// The element's name as written, with its namespace prefix.
        package var qualifiedName: String { prefix.map { "\($0):\(name)" } ?? name }

        /// The attributes outside any namespace, in document order.
        package var attributes: [(String, String)] {
            var result: [(String, String)] = []
            var attribute = node.pointee.properties
            while let current = attribute {
                if current.pointee.ns == nil, let name = current.pointee.name.map({ String(cString: $0) }),
                    let value = self.attribute(name)
                {
                    result.append((name, value))
                }
                attribute = current.pointee.next
            }
            return result
        }

        /// The element's text, trimmed.
        package var text: String {
            guard let content = xmlNodeGetContent(node) else { return "" }
            defer { bulwark_xml_free(content) }
            return String(cString: content).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        package func childText(_ name: String) -> String? { child(name)?.text }

        // Editing, for documents libvirt will read back (a recovery point's domain made into a new VM).

        package func setAttribute(_ name: String, _ value: String) { xmlSetProp(node, name, value) }

        package func removeAttribute(_ name: String) { xmlUnsetProp(node, name) }

        /// Replaces the element's content with `text`, escaped.
        package func setText(_ text: String) {
            // xmlNodeSetContent would read entity references in the text; AddContent takes it literally.
            xmlNodeSetContent(node, nil)
            xmlNodeAddContent(node, text)
        }

        /// Unlinks the element from its document (the document frees it).
        package func remove() {
            xmlUnlinkNode(node)
            xmlFreeNode(node)
        }

        /// Appends an empty child element and returns it.
        @discardableResult
        package func addChild(_ name: String) -> Element {
            Element(node: xmlNewChild(node, nil, name, nil), document: document)
        }

        /// The whole document this element belongs to, as XML.
        package var documentXML: String {
            var buffer: UnsafeMutablePointer<xmlChar>?
            var size: Int32 = 0
            xmlDocDumpMemoryEnc(document.pointer, &buffer, &size, "UTF-8")
            guard let buffer else { return "" }
            defer { bulwark_xml_free(buffer) }
            return String(cString: buffer)
        }
    }

    /// An element to write: name, attributes in order, optional text, children.
    package struct Node {
        package var name: String
        package var attributes: [(String, String)] = []
        package var text: String?
        package var children: [Node] = []

        package init(_ name: String, _ attributes: [(String, String)] = [], text: String? = nil, children: [Node] = []) {
            self.name = name
            self.attributes = attributes
            self.text = text
            self.children = children
        }

        /// The element as compact XML, escaped by libxml2.
        package var xml: String {
            _ = XMLTree.initialized
            guard let document = xmlNewDoc("1.0") else { return "" }
            defer { xmlFreeDoc(document) }
            let root = build(in: document)
            xmlDocSetRootElement(document, root)
            guard let buffer = xmlBufferCreate() else { return "" }
            defer { xmlBufferFree(buffer) }
            xmlNodeDump(buffer, document, root, 0, 0)
            return xmlBufferContent(buffer).map { String(cString: $0) } ?? ""
        }

        private func build(in document: xmlDocPtr) -> xmlNodePtr? {
            let node = xmlNewDocNode(document, nil, name, nil)
            for (key, value) in attributes { xmlNewProp(node, key, value) }
            if let text { xmlNodeAddContent(node, text) }
            for child in children { xmlAddChild(node, child.build(in: document)) }
            return node
        }
    }
}
