public import Foundation

/// A virtual machine as an admin names it on the command line: `HOST/NAME`, its libvirt UUID, or a `NAME` that only
/// one host has.
///
/// Text that parses as a UUID is taken as one, so a VM whose name looks like a UUID is named as `HOST/NAME`. Libvirt
/// refuses `/` in domain names and host names never contain it, so the first `/` always separates the two.
public enum VMReference: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    case hostAndName(host: String, name: String)
    case uuid(UUID)
    case name(String)

    public init(parsing text: String) throws(ValidationError) {
        let fix = "name the VM as HOST/NAME, by its UUID, or by a NAME only one host has"
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw ValidationError(field: "VM", value: text, rule: "must not be empty", fix: fix)
        }
        if let uuid = UUID(uuidString: trimmed) {
            self = .uuid(uuid)
            return
        }
        let parts = trimmed.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            self = .name(trimmed)
        case 2 where !parts[0].isEmpty && !parts[1].isEmpty:
            self = .hostAndName(host: String(parts[0]), name: String(parts[1]))
        case 2:
            throw ValidationError(
                field: "VM", value: text, rule: "HOST/NAME needs both a host and a name", fix: fix)
        default:
            throw ValidationError(
                field: "VM", value: text, rule: "may contain at most one '/' (between host and name)", fix: fix)
        }
    }

    public init?(_ description: String) {
        guard let reference = try? VMReference(parsing: description) else { return nil }
        self = reference
    }

    /// The form the CLI accepts; UUIDs in lower case, as libvirt writes them.
    public var description: String {
        switch self {
        case .hostAndName(let host, let name): "\(host)/\(name)"
        case .uuid(let uuid): uuid.uuidString.lowercased()
        case .name(let name): name
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try VMReference(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
