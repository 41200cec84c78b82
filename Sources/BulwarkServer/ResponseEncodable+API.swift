public import BulwarkAPI
public import Hummingbird

// The wire types are answered as JSON with the context's encoder.
extension APIErrorBody: ResponseEncodable {}
extension ServerStatus: ResponseEncodable {}
extension DatastoreView: ResponseEncodable {}
extension DatastoreAttachResult: ResponseEncodable {}
extension GroupView: ResponseEncodable {}
extension VMView: ResponseEncodable {}
extension RecoveryPointView: ResponseEncodable {}
extension MaintenanceReport: ResponseEncodable {}
extension JobView: ResponseEncodable {}
extension AlertView: ResponseEncodable {}
extension EnrollmentTokenView: ResponseEncodable {}
extension AgentView: ResponseEncodable {}
extension EnrollmentResponse: ResponseEncodable {}
extension ExportView: ResponseEncodable {}
extension BrowseView: ResponseEncodable {}
