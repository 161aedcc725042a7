// In a fleet, a request that would change the pool (any method but GET and HEAD) is refused at
// once while the node may not write to it (its lease is not held with a margin: WriteFence), so
// it is refused whole rather than half-applied (a write the cache took and could not write
// back). A forwarded request is not this pool's: it passes.
import Engine

struct FenceMiddleware: Middleware {
    let fence: WriteFence

    func handle(_ request: HTTPRequest, context: RequestContext, next: Next) throws -> RouteOutcome {
        guard request.method != "GET", request.method != "HEAD", context.parameters[ForwardTarget.nodeParameter] == nil,
            let reason = fence.refusedBecause
        else { return try next(request, context) }
        throw EngineError.fenced(reason: reason)
    }
}
