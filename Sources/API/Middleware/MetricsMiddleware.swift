// Outermost middleware: turns errors into responses (via ErrorMapping), counts requests by route
// template, method and status, observes latency, and logs one line per request.
import Logging
import Prometheus

struct MetricsMiddleware: Middleware {
    let metrics: HTTPMetrics
    /// The listener's error answers (problem+json, or S3 XML).
    var errorResponse: @Sendable (any Error, RequestContext) -> HTTPResponse = { ErrorMapping.response(for: $0, context: $1) }
    /// On the S3 listener: the request's operation, counted in the S3 families too.
    var operation: (@Sendable (HTTPRequest, String) -> String)?
    /// Method labels are bounded: anything else is counted as `other`.
    static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    func handle(_ request: HTTPRequest, context: RequestContext, next: Next) throws -> RouteOutcome {
        let start = ContinuousClock.now
        let response: HTTPResponse
        do {
            switch try next(request, context) {
            case .opened(let sink, let context): return .opened(sink, context)  // Recorded by `completed`.
            case .response(let answer): response = answer
            }
        } catch let needs as NeedsWorker {
            throw needs  // Nothing was done here: recorded when the worker runs it.
        } catch {
            response = errorResponse(error, context)
        }
        record(request, context: context, status: response.status, duration: ContinuousClock.now - start)
        if context.logs(.debug) {
            context.logger.debug(
                "request", metadata: ["method": "\(request.method)", "route": "\(context.route)", "status": "\(response.status)"])
        }
        return .response(response)
    }

    func completed(_ request: HTTPRequest, context: RequestContext, status: Int, duration: Duration) {
        record(request, context: context, status: status, duration: duration)
    }

    private func record(_ request: HTTPRequest, context: RequestContext, status: Int, duration: Duration) {
        metrics.record(
            route: context.route, method: Self.knownMethods.contains(request.method) ? request.method : "other", status: status,
            duration: duration, operation: operation?(request, context.route))
    }
}
