public import BulwarkAPI
public import Hummingbird

// The wire types are answered as JSON with the context's encoder.
extension APIErrorBody: ResponseEncodable {}
extension ServerStatus: ResponseEncodable {}
extension DatastoreView: ResponseEncodable {}
