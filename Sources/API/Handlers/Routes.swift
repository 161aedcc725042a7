// The whole route table, in one place (a test diffs it against openapi.yaml via `appliance routes`).
package import Engine

package enum Routes {
    /// Builds the router with every route and the middleware chain.
    /// `metricsAuth`: /metrics needs the bearer token too.
    package static func makeRouter(
        engine: Engine, token: String, metrics: HTTPMetrics, keys: AccessKeyStore? = nil, metricsAuth: Bool = false,
        uploads: UploadLimits = UploadLimits()
    ) -> Router {
        var router = Router()
        router.use(MetricsMiddleware(metrics: metrics))
        router.use(AuthMiddleware(token: token, guardsMetrics: metricsAuth))
        router.use(UploadLimitMiddleware(limits: uploads))
        HealthHandlers(engine: engine, metrics: metrics).register(in: &router)
        PoolHandlers(engine: engine).register(in: &router)
        DeviceHandlers(engine: engine).register(in: &router)
        VolumeHandlers(engine: engine, keys: keys).register(in: &router)
        ObjectHandlers(engine: engine).register(in: &router)
        if let keys { AccessKeyHandlers(keys: keys).register(in: &router) }
        return router
    }
}
