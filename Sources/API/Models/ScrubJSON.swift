// Wire DTO for a scrub's status (openapi.yaml: Scrub).
import Engine
import Foundation

struct ScrubJSON: Encodable, Sendable {
    struct Range: Encodable, Sendable {
        var volume: String
        var key: String
        var offset: Int64
        var length: Int64
    }

    var state: String
    var startedAt: String?
    var finishedAt: String?
    var checkedBytes: Int64
    var totalBytes: Int64
    var errors: Int64
    var repaired: Int64
    var unrepairable: [Range]
    var problem: String?

    enum CodingKeys: String, CodingKey {
        case state, errors, repaired, unrepairable, problem
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case checkedBytes = "checked_bytes"
        case totalBytes = "total_bytes"
    }

    init(_ status: ScrubStatus) {
        state = status.state.rawValue
        startedAt = status.startedAt?.wireFormat
        finishedAt = status.finishedAt?.wireFormat
        checkedBytes = status.checkedBytes
        totalBytes = status.totalBytes
        errors = status.errors
        repaired = status.repaired
        problem = status.problem
        unrepairable = status.unrepairable.map { Range(volume: $0.volume, key: $0.key, offset: $0.offset, length: $0.length) }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(state, forKey: .state)
        try c.encode(startedAt, forKey: .startedAt)  // explicit null before the first scrub
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(checkedBytes, forKey: .checkedBytes)
        try c.encode(totalBytes, forKey: .totalBytes)
        try c.encode(errors, forKey: .errors)
        try c.encode(repaired, forKey: .repaired)
        try c.encode(unrepairable, forKey: .unrepairable)
        try c.encodeIfPresent(problem, forKey: .problem)
    }
}
