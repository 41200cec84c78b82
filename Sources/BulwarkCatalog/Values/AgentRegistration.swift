/// What the server learns about a host when its agent enrolls: its name and the client certificate it issued.
public struct AgentRegistration: Hashable, Sendable {
    /// The host's name as its agent reports it; unique, compared case-insensitively.
    public var host: String
    /// The SHA-256 fingerprint of the client certificate, as the server computes it for mTLS lookups.
    public var certificateFingerprint: String
    public var certificatePEM: String

    public init(host: String, certificateFingerprint: String, certificatePEM: String) {
        self.host = host
        self.certificateFingerprint = certificateFingerprint
        self.certificatePEM = certificatePEM
    }
}
