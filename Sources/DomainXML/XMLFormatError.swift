/// A problem reading XML that libvirt, an agent or a caller handed over.
public struct XMLFormatError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
