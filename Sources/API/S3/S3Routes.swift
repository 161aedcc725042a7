// The S3 listener's route table: path-style addressing (`/bucket/key`; virtual-host-style is
// routed as path-style, S3VirtualHost.swift), one route per path shape
// and method, each dispatching on the query's subresource (`?uploads`, `?uploadId=`, `?delete`,
// `?location`, …). Errors are S3 XML (S3ErrorMapping). Every route runs on a worker: each reads
// the catalog or waits on a commit (a PUT's head is checked on the loop first).
package import Engine

/// S3 behaviour an operator chooses.
package struct S3Settings: Sendable {
    /// Reported by GetBucketLocation and HeadBucket; any region is accepted in signatures.
    package var region: String
    /// Capacity of a bucket created through S3 (a thin volume); 0: the pool's capacity then.
    package var bucketCapacity: Int64
    package var bucketReplicas: Int64
    /// Virtual-host-style addressing: a request to `bucket.<domain>` is for that bucket (the
    /// domain itself, and any other host, are path-style). nil: path-style only.
    package var domain: String?

    package init(region: String = "us-east-1", bucketCapacity: Int64 = 0, bucketReplicas: Int64 = 1, domain: String? = nil) {
        self.domain = domain.map { $0.lowercased() }
        self.region = region
        self.bucketCapacity = bucketCapacity
        self.bucketReplicas = bucketReplicas
    }
}

package enum S3Routes {
    package static func makeRouter(
        engine: Engine, keys: AccessKeyStore, settings: S3Settings, metrics: HTTPMetrics, uploads: UploadLimits = UploadLimits(),
        fleet: FleetRouting? = nil
    ) -> Router {
        let errors: @Sendable (any Error, RequestContext) -> HTTPResponse = { S3ErrorMapping.response(for: $0, context: $1) }
        var router = Router(errorResponse: errors)
        if let domain = settings.domain { router.pathForHost = { path, host in S3VirtualHost.path(path, host: host, domain: domain) } }
        if let fleet {
            // The owner checks the signature (over the request exactly as sent, Host included).
            router.forward(
                template: "/{bucket} (forwarded)", parameter: "bucket", target: { fleet.target(s3Path: $0) },
                open: { try fleet.open($0, context: $1) })
        }
        var metricsMiddleware = MetricsMiddleware(metrics: metrics)
        metricsMiddleware.errorResponse = errors
        metricsMiddleware.operation = { S3Operation.name($0, route: $1) }
        router.use(metricsMiddleware)
        // A bucket made through another node a moment ago: its node checks the signature.
        if let fleet { router.use(FleetMissMiddleware(fleet: fleet, engine: engine, s3: true)) }
        router.use(S3AuthMiddleware(store: keys))
        router.use(UploadLimitMiddleware(limits: uploads))
        router.use(FenceMiddleware(fence: engine.fence))
        S3Handlers(engine: engine, keys: keys, settings: settings, fleet: fleet).register(in: &router)
        return router
    }
}

package struct S3Handlers: Sendable {
    let engine: Engine
    let keys: AccessKeyStore
    let settings: S3Settings
    /// In a fleet: a bucket's name is entered in the volume directory when it is created.
    var fleet: FleetRouting?
    /// Every part but the last holds at least this much (S3's limit).
    static let minimumPartSize: Int64 = 5 << 20
    static let maxKeys = 1000

    func register(in router: inout Router) {
        router.add("GET", "/") { request, context in try listBuckets(request, context) }
        for template in ["/{bucket}", "/{bucket}/"] {
            router.add("GET", template) { request, context in try bucketGet(request, context) }
            router.add("PUT", template) { request, context in try bucketPut(request, context) }
            router.add("DELETE", template) { request, context in try bucketDelete(request, context) }
            router.add("POST", template) { request, context in try bucketPost(request, context) }
        }
        // Inline: a GET of a range the cache holds is answered on the event loop (as on the native API).
        router.add("GET", "/{bucket}/{key...}", inline: true) { request, context in try objectGet(request, context) }
        // Inline: a refusal certain from memory (auth, permission, a body no quota could take) is
        // answered on the event loop before the body is sent; the upload is opened by a worker.
        router.addStreaming("PUT", "/{bucket}/{key...}", inline: true) { request, context in try objectPut(request, context) }
        router.add("DELETE", "/{bucket}/{key...}") { request, context in try objectDelete(request, context) }
        router.add("POST", "/{bucket}/{key...}") { request, context in try objectPost(request, context) }
    }
}
