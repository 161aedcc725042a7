// GET /healthz (no auth) and GET /metrics (Prometheus text exposition).
import Engine
import Prometheus

struct HealthHandlers {
    let engine: Engine
    let metrics: HTTPMetrics

    func register(in router: inout Router) {
        router.add("GET", "/healthz", inline: true) { _, _ in .json(HealthJSON(status: "ok")) }
        router.add("GET", "/metrics") { [engine, metrics] _, _ in
            var buffer: [UInt8] = []
            EngineCollector.emit(try engine.snapshot(), into: &buffer)
            metrics.registry.emit(into: &buffer)
            metrics.emitGauges(into: &buffer)
            return HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body: buffer)
        }
    }
}
