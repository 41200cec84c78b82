import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// A parsed XML element: S3's answers are small documents read once, so a tree is simpler than a streaming reader.
struct S3XMLNode {
    var name: String
    var text = ""
    var children: [S3XMLNode] = []

    func child(_ name: String) -> S3XMLNode? { children.first { $0.name == name } }
    func all(_ name: String) -> [S3XMLNode] { children.filter { $0.name == name } }
    /// The text of the first child called `name`.
    func value(_ name: String) -> String? { child(name)?.text }

    /// Parses `bytes`; nil when they are not well-formed XML.
    static func parse(_ bytes: [UInt8]) -> S3XMLNode? {
        let builder = TreeBuilder()
        let parser = XMLParser(data: Data(bytes))
        parser.shouldProcessNamespaces = true  // element names without the S3 namespace's prefix, if one is used
        parser.shouldResolveExternalEntities = false
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else { return nil }
        return root
    }

    private final class TreeBuilder: NSObject, XMLParserDelegate {
        var stack: [S3XMLNode] = []
        var root: S3XMLNode?

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            stack.append(S3XMLNode(name: elementName))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
            guard let element = stack.popLast() else { return }
            if stack.isEmpty { root = element } else { stack[stack.count - 1].children.append(element) }
        }
    }
}

/// The body of an S3 error answer: `<Error><Code>NoSuchBucket</Code><Message>…</Message>…</Error>`.
struct S3ErrorBody: Equatable {
    var code: String
    var message: String?
    var resource: String?
    var requestID: String?

    /// Nil when `bytes` are not an S3 error document (HEAD answers have no body; proxies send HTML).
    init?(xml bytes: [UInt8]) {
        guard let root = S3XMLNode.parse(bytes), root.name == "Error", let code = root.value("Code"), !code.isEmpty else {
            return nil
        }
        self.code = code
        message = root.value("Message")
        resource = root.value("Resource")
        requestID = root.value("RequestId")
    }
}

/// One page of a ListObjectsV2 answer.
public struct S3ListPage: Sendable, Equatable {
    /// Keys as the bucket holds them, with the configuration's key prefix.
    public var objects: [S3Object]
    public var isTruncated: Bool
    /// Where the next page starts; set when `isTruncated`.
    public var nextContinuationToken: String?

    public init(objects: [S3Object], isTruncated: Bool, nextContinuationToken: String?) {
        self.objects = objects
        self.isTruncated = isTruncated
        self.nextContinuationToken = nextContinuationToken
    }

    /// Parses a `ListBucketResult` document.
    public init(xml bytes: [UInt8]) throws(S3Error) {
        guard let root = S3XMLNode.parse(bytes), root.name == "ListBucketResult" else {
            throw S3Error(.invalidResponse, "the gateway's object listing is not a ListBucketResult XML document")
        }
        var objects: [S3Object] = []
        for entry in root.all("Contents") {
            guard let key = entry.value("Key"), let size = entry.value("Size").flatMap({ Int64($0) }) else {
                throw S3Error(.invalidResponse, "an entry of the gateway's object listing has no Key or Size")
            }
            objects.append(S3Object(key: key, size: size, etag: entry.value("ETag").map(S3Object.unquote)))
        }
        self.objects = objects
        isTruncated = root.value("IsTruncated") == "true"
        nextContinuationToken = root.value("NextContinuationToken").flatMap { $0.isEmpty ? nil : $0 }
        if isTruncated && nextContinuationToken == nil {
            throw S3Error(.invalidResponse, "the gateway's object listing is truncated but has no NextContinuationToken")
        }
    }
}

/// The keys a multi-object delete could not delete, from its `DeleteResult` answer.
struct S3DeleteResult {
    var failed: [S3DeleteFailure]

    init(xml bytes: [UInt8]) throws(S3Error) {
        guard let root = S3XMLNode.parse(bytes), root.name == "DeleteResult" else {
            throw S3Error(.invalidResponse, "the gateway's answer to a multi-object delete is not a DeleteResult document")
        }
        failed = root.all("Error").map {
            S3DeleteFailure(key: $0.value("Key") ?? "", code: $0.value("Code") ?? "", message: $0.value("Message") ?? "")
        }
    }
}
