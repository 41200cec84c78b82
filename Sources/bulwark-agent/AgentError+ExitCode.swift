import BulwarkAgent

extension AgentError {
    /// The exit code of a command that failed with this error, as the admin CLI maps its own: 1 the server
    /// refused, 69 the server (or libvirt) is unavailable, 78 the configuration or the input is wrong.
    var exitCode: Int32 {
        switch code {
        case .unreachable, .libvirt: 69
        case .invalid, .notEnrolled, .untrustedServer, .alreadyEnrolled: 78
        default: 1
        }
    }
}
