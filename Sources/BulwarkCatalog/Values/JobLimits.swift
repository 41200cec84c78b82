/// How many agent tasks may run at once, set by the server: a host's agent is never given more than `perHost`,
/// and no datastore takes more than `perDatastore` syncs at once, whatever the agents could run.
public struct JobLimits: Hashable, Sendable {
    public var perHost: Int?
    public var perDatastore: Int?

    public init(perHost: Int? = nil, perDatastore: Int? = nil) {
        self.perHost = perHost
        self.perDatastore = perDatastore
    }
}
