// The whole route table, in one place (a test diffs it against openapi.yaml via `appliance routes`).
package import Engine

package enum Routes {
    /// Builds the router with every route and the middleware chain.
    /// `metricsAuth`: /metrics needs the bearer token too.
    /// With `console` (and `keys`), the web console's pages under /ui/ too.
    package static func makeRouter(
        engine: Engine, token: String, metrics: HTTPMetrics, keys: AccessKeyStore? = nil, metricsAuth: Bool = false,
        uploads: UploadLimits = UploadLimits(), console: Console? = nil, fleet: FleetRouting? = nil
    ) -> Router {
        var router = Router()
        if let fleet {
            router.forward(
                template: "/v1/volumes/{name} (forwarded)", parameter: "name", target: { fleet.target(nativePath: $0) },
                open: { try fleet.open($0, context: $1) })
        }
        router.use(MetricsMiddleware(metrics: metrics))
        router.use(AuthMiddleware(token: token, guardsMetrics: metricsAuth))
        if let fleet { router.use(FleetMissMiddleware(fleet: fleet, engine: engine, s3: false)) }
        router.use(UploadLimitMiddleware(limits: uploads))
        router.use(FenceMiddleware(fence: engine.fence))
        if let console { router.use(ConsoleGate(sessions: console.sessions)) }
        register(engine: engine, metrics: metrics, keys: keys, fleet: fleet, in: &router)
        if let console, let keys {
            // The API the console calls in process: the same routes and checks, not counted twice.
            var api = Router()
            api.use(AuthMiddleware(token: token, guardsMetrics: metricsAuth))
            register(engine: engine, metrics: metrics, keys: keys, fleet: fleet, in: &api)
            ConsoleHandlers(
                engine: engine, keys: keys, token: token, api: api, sessions: console.sessions, activity: console.activity,
                settings: console.settings, fleet: fleet
            ).register(in: &router)
        }
        return router
    }

    private static func register(engine: Engine, metrics: HTTPMetrics, keys: AccessKeyStore?, fleet: FleetRouting?, in router: inout Router) {
        HealthHandlers(engine: engine, metrics: metrics).register(in: &router)
        PoolHandlers(engine: engine).register(in: &router)
        DeviceHandlers(engine: engine).register(in: &router)
        VolumeHandlers(engine: engine, keys: keys, fleet: fleet).register(in: &router)
        ClusterHandlers(fleet: fleet).register(in: &router)
        SnapshotHandlers(engine: engine).register(in: &router)
        ObjectHandlers(engine: engine).register(in: &router)
        if let keys { AccessKeyHandlers(keys: keys).register(in: &router) }
    }
}
