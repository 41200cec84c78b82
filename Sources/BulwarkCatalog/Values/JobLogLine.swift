public import BulwarkCore
public import Foundation

/// One line of a job's log.
public struct JobLogLine: Hashable, Sendable, Codable {
    /// Increases with every line written to the catalog; `job show --follow` asks for lines after the last one.
    public var sequence: Int64
    public var time: Date
    public var level: JobLogLevel
    public var message: String

    public init(sequence: Int64, time: Date, level: JobLogLevel, message: String) {
        self.sequence = sequence
        self.time = time
        self.level = level
        self.message = message
    }
}
