@testable import BulwarkAgent
import Libvirt
import Testing

/// Which failures of a sync may pass, so that the server queues the sync again.
@Suite struct TransientFailureTests {
    @Test(arguments: [
        (AgentError.Code.unreachable, true),
        (.nbd, true),
        // A chunk the sync counted on left the datastore before the commit: a new try uploads it again.
        (.chunkMissing, true),
        (.rejected, false),
        (.quiesceRequired, false),
        (.notFound, false),
        (.cancelled, false),
    ])
    func agentFailures(code: AgentError.Code, passes: Bool) {
        #expect(SyncRunner.mayPass(AgentError(code, "test")) == passes)
    }
}
