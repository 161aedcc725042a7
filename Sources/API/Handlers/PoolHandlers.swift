// GET /v1/pool.
import Engine

struct PoolHandlers {
    let engine: Engine

    func register(in router: inout Router) {
        router.add("GET", "/v1/pool") { [engine] _, _ in .json(PoolJSON(try engine.pool())) }
    }
}
