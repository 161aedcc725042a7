// GET /v1/pool; POST and GET /v1/pool/scrub (start a scrub, 409 while one runs; its status).
import Engine

struct PoolHandlers {
    let engine: Engine

    func register(in router: inout Router) {
        router.add("GET", "/v1/pool") { [engine] _, _ in .json(PoolJSON(try engine.pool())) }
        router.add("POST", "/v1/pool/scrub") { [engine] _, _ in .json(ScrubJSON(try engine.startScrub()), status: 202) }
        router.add("GET", "/v1/pool/scrub") { [engine] _, _ in .json(ScrubJSON(engine.scrubStatus())) }
    }
}
