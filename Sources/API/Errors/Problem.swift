// The application/problem+json body (RFC 9457).
struct Problem: Codable, Sendable, Equatable {
    var type: String
    var title: String
    var status: Int
    var detail: String
}
