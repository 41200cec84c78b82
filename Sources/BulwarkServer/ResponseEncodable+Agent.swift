public import BulwarkAPI
public import Hummingbird

// The agent protocol's answers, as JSON with the context's encoder.
extension AgentInventoryResult: ResponseEncodable {}
extension AgentPing: ResponseEncodable {}
extension AgentTask: ResponseEncodable {}
extension AgentTaskControl: ResponseEncodable {}
extension ChunkQueryResult: ResponseEncodable {}
extension AgentCommitResult: ResponseEncodable {}
