import Foundation
import Logging

/// What each running item-level recovery on the server is making in its target folder, one record per job in the
/// data directory, so that a copy bulwarkd died in the middle of is removed when it starts again.
///
/// Only names absent from the folder when the job began are recorded: the copy refuses a name that exists, so
/// everything recorded is the job's own.
struct PartialItemCopies: Sendable {
    struct Record: Codable {
        var folder: String
        var names: [String]
    }

    let folder: String

    init(dataDirectory: ServerDataDirectory) { folder = dataDirectory.file("item-copies") }

    /// Records the entries of `target` a job is about to make; those present already are left out.
    func record(job: String, target: String, names: [String]) throws {
        let absent = names.filter { name in
            var status = stat()
            return lstat("\(target)/\(name)", &status) != 0 && errno == ENOENT
        }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try JSONEncoder().encode(Record(folder: target, names: absent))
                .write(to: URL(fileURLWithPath: "\(folder)/\(job).json"), options: .atomic)
        } catch {
            throw ServerError(.dataDirectory, "cannot record the item-level recovery in \(folder): \(error)", cause: error)
        }
    }

    /// Forgets job `job`'s record: it ended and its copies are the user's.
    func forget(job: String) {
        try? FileManager.default.removeItem(atPath: "\(folder)/\(job).json")
    }

    /// Removes what job `job` made in its target folder, then its record: it failed.
    func removeCopies(job: String, logger: Logger) {
        let path = "\(folder)/\(job).json"
        guard let data = FileManager.default.contents(atPath: path),
            let record = try? JSONDecoder().decode(Record.self, from: data)
        else {
            try? FileManager.default.removeItem(atPath: path)
            return
        }
        for name in record.names {
            let item = "\(record.folder)/\(name)"
            var status = stat()
            guard lstat(item, &status) == 0 else { continue }
            do {
                try FileManager.default.removeItem(atPath: item)
                logger.info("removed \(item), left by an item-level recovery that did not finish", metadata: ["job": "\(job)"])
            } catch {
                logger.warning(
                    "cannot remove \(item), left by an item-level recovery that did not finish: \(error)",
                    metadata: ["job": "\(job)"])
            }
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// At start: removes what every recorded job made; none of them can still be running.
    func cleanUp(logger: Logger) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names where name.hasSuffix(".json") {
            removeCopies(job: String(name.dropLast(5)), logger: logger)
        }
    }
}
