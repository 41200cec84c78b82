/// A job with its log, for `bulwark job show`.
public struct JobDetail: Hashable, Sendable, Codable {
    public var job: JobInfo
    public var log: [JobLogLine]

    public init(job: JobInfo, log: [JobLogLine]) {
        self.job = job
        self.log = log
    }
}
