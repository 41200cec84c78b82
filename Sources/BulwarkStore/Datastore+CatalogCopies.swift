public import Foundation

/// Copies of the server's catalog kept in the datastore, so that a server rebuilt after losing its data directory
/// finds the groups, VMs and points the datastore holds (`<root>/.catalog/catalog-<UTC time>.sqlite`, and the same
/// key in the bucket of an S3 datastore). Garbage collection and verify leave the folder alone.
extension Datastore {
    static let catalogCopiesName = ".catalog"
    /// Copies kept; older ones go when a new one is stored.
    public static let catalogCopiesKept = 3

    var catalogCopiesPath: String { "\(root)/\(Self.catalogCopiesName)" }

    /// Stores the catalog copy in `file` (an SQLite file the caller wrote) as the newest, taken at `time`, then
    /// removes all but the newest ``catalogCopiesKept``. On an S3 datastore the bucket gets it first.
    public func storeCatalogCopy(from file: String, takenAt time: Date) throws(DatastoreError) {
        guard let bytes = try FileSystem.read(file), !bytes.isEmpty else {
            throw DatastoreError(.invalidArgument, "the catalog copy \(file) is missing or empty; write it again")
        }
        let name = Self.catalogCopyName(time)
        let path = "\(catalogCopiesPath)/\(name)"
        if let objectStore { _ = try objectStore.put(key: objectKey(path), bytes: bytes, ifAbsent: false) }
        if try FileSystem.makeDirectory(catalogCopiesPath) { try FileSystem.syncDirectory(root) }
        try FileSystem.writeAtomically(bytes, to: path)
        let old = try catalogCopies().dropLast(Self.catalogCopiesKept)
        guard !old.isEmpty else { return }
        if let objectStore { try objectStore.delete(keys: old.map { objectKey("\(catalogCopiesPath)/\($0.name)") }) }
        for copy in old { try FileSystem.remove("\(catalogCopiesPath)/\(copy.name)") }
        try FileSystem.syncDirectory(catalogCopiesPath)
    }

    /// The catalog copies in the folder, oldest first.
    public func catalogCopies() throws(DatastoreError) -> [(name: String, takenAt: Date)] {
        try (FileSystem.list(catalogCopiesPath) ?? []).compactMap { name in
            Self.catalogCopyTime(name).map { (name, $0) }
        }.sorted { $0.takenAt < $1.takenAt }
    }

    /// The path of the newest catalog copy, if there is one.
    public func newestCatalogCopy() throws(DatastoreError) -> String? {
        try catalogCopies().last.map { "\(catalogCopiesPath)/\($0.name)" }
    }

    /// `catalog-20261206T093012.345Z.sqlite`: UTC to the millisecond, sorting as text in time order.
    static func catalogCopyName(_ time: Date) -> String {
        let parts = utc.dateComponents([.year, .month, .day, .hour, .minute, .second], from: time)
        let milliseconds = Int((time.timeIntervalSince1970 * 1000).rounded(.down)) % 1000
        let stamp = String(
            format: "%04d%02d%02dT%02d%02d%02d.%03dZ", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0,
            parts.minute ?? 0, parts.second ?? 0, milliseconds)
        return "catalog-\(stamp).sqlite"
    }

    static func catalogCopyTime(_ name: String) -> Date? {
        guard name.hasPrefix("catalog-"), name.hasSuffix(".sqlite") else { return nil }
        let stamp = Array(name.dropFirst(8).dropLast(7).utf8)
        // yyyyMMddTHHmmss.SSSZ
        guard stamp.count == 20, stamp[8] == UInt8(ascii: "T"), stamp[15] == UInt8(ascii: "."),
            stamp[19] == UInt8(ascii: "Z")
        else { return nil }
        func number(_ range: Range<Int>) -> Int? { Int(String(decoding: stamp[range], as: UTF8.self)) }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8), let hour = number(9..<11),
            let minute = number(11..<13), let second = number(13..<15), let milliseconds = number(16..<19),
            let date = utc.date(
                from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second))
        else { return nil }
        return date.addingTimeInterval(Double(milliseconds) / 1000)
    }

    private static var utc: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }
}
