public import DomainXML
import Foundation

/// The XML that asks libvirt for a new checkpoint: a name and, per disk, whether it gets a dirty bitmap.
public struct CheckpointDefinition: Sendable, Hashable {
    public var name: String
    public var description: String?
    /// Disks that get a bitmap, by target name.
    public var bitmapDisks: [String]
    /// Disks explicitly left out (libvirt would otherwise give every qcow2 disk a bitmap).
    public var excludedDisks: [String]

    public init(name: String, description: String? = nil, bitmapDisks: [String], excludedDisks: [String] = []) {
        self.name = name
        self.description = description
        self.bitmapDisks = bitmapDisks
        self.excludedDisks = excludedDisks
    }

    /// Whether libvirt's schema accepts `name` as a checkpoint name: letters, digits, `_` and `-`, then also `.`.
    ///
    /// Libvirt answers a bad name with a bare schema-validation failure; checking first lets the error say which
    /// value was wrong.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first else { return false }
        func allowed(_ scalar: Unicode.Scalar) -> Bool {
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || scalar == "_" || scalar == "-")
        }
        return allowed(first) && name.unicodeScalars.dropFirst().allSatisfy { allowed($0) || $0 == "." }
    }

    /// Throws `invalidArgument` naming the problem when libvirt would refuse the definition.
    public func validate(subject: String? = nil) throws(LibvirtError) {
        func refuse(_ message: String) -> LibvirtError {
            LibvirtError(code: .invalidArgument, message: message, operation: "create checkpoint '\(name)'", subject: subject)
        }
        guard Self.isValidName(name) else {
            throw refuse("checkpoint name '\(name)' is not allowed: use letters, digits, '_', '-' and (after the first character) '.'")
        }
        guard !bitmapDisks.isEmpty else {
            throw refuse("a checkpoint needs at least one disk with a bitmap; name the disks to track")
        }
    }

    /// The `<domaincheckpoint>` document.
    public var xml: String {
        var children = [XMLTree.Node("name", text: name)]
        if let description { children.append(XMLTree.Node("description", text: description)) }
        let disks =
            bitmapDisks.map { XMLTree.Node("disk", [("name", $0), ("checkpoint", "bitmap")]) }
            + excludedDisks.map { XMLTree.Node("disk", [("name", $0), ("checkpoint", "no")]) }
        children.append(XMLTree.Node("disks", children: disks))
        return XMLTree.Node("domaincheckpoint", children: children).xml
    }
}

/// A checkpoint as libvirt describes it (`virDomainCheckpointGetXMLDesc`).
public struct CheckpointDescription: Sendable, Hashable {
    /// One disk of a checkpoint.
    public struct Disk: Sendable, Hashable {
        public var name: String
        /// `bitmap` or `no`.
        public var checkpoint: String
        /// The qcow2 bitmap's name (normally the checkpoint's name).
        public var bitmap: String?
        /// Bytes changed since the checkpoint, when libvirt was asked for sizes.
        public var size: UInt64?
    }

    public var name: String
    public var parent: String?
    /// Seconds since the epoch, as libvirt recorded it.
    public var creationTime: Int64?
    public var disks: [Disk]

    public init(xml: String) throws(XMLFormatError) {
        let root = try XMLTree.parse(xml, root: "domaincheckpoint")
        guard let name = root.childText("name"), !name.isEmpty else {
            throw XMLFormatError("checkpoint XML has no <name>")
        }
        self.name = name
        self.parent = root.child("parent")?.childText("name")
        self.creationTime = root.childText("creationTime").flatMap { Int64($0) }
        self.disks = (root.child("disks")?.children("disk") ?? []).compactMap { element in
            guard let name = element.attribute("name") else { return nil }
            return Disk(
                name: name, checkpoint: element.attribute("checkpoint") ?? "bitmap",
                bitmap: element.attribute("bitmap"), size: element.attribute("size").flatMap { UInt64($0) })
        }
    }

    /// Targets of the disks that carry a bitmap in this checkpoint.
    public var bitmapDisks: [String] { disks.filter { $0.checkpoint == "bitmap" }.map(\.name) }
}
