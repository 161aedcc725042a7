// The router: route templates with `{parameters}`, method dispatch (404 / 405 + Allow), the
// middleware chain, and the single place where thrown errors become problem responses.
import Logging

package typealias Handler = @Sendable (HTTPRequest, RequestContext) throws -> HTTPResponse

package struct Route: Sendable {
    package var method: String
    package var template: String
    let segments: [Segment]
    let handler: Handler

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    init(method: String, template: String, handler: @escaping Handler) {
        self.method = method
        self.template = template
        self.handler = handler
        segments = template.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? .parameter(String(part.dropFirst().dropLast())) : .literal(String(part))
        }
    }

    /// Raw (still encoded) parameter values when `parts` matches this template.
    func match(_ parts: [Substring]) -> [String: String]? {
        guard parts.count == segments.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let literal): if part != literal { return nil }
            case .parameter(let name):
                if part.isEmpty { return nil }
                parameters[name] = String(part)
            }
        }
        return parameters
    }
}

package struct Router: Sendable {
    package private(set) var routes: [Route] = []
    private var middleware: [any Middleware] = []

    package init() {}

    package mutating func add(_ method: String, _ template: String, _ handler: @escaping Handler) {
        routes.append(Route(method: method, template: template, handler: handler))
    }

    package mutating func use(_ middleware: any Middleware) {
        self.middleware.append(middleware)
    }

    /// Dispatches a request through the middleware to its handler; never throws: every error is
    /// turned into a problem response here.
    package func respond(to request: HTTPRequest, context: RequestContext) -> HTTPResponse {
        var context = context
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { $0 }
        let resolved: Result<(Route, [String: String]), HTTPError>
        let candidates = routes.compactMap { route in route.match(parts).map { (route, $0) } }
        let method = request.method == "HEAD" ? "GET" : request.method
        if let (route, raw) = candidates.first(where: { $0.0.method == method }) {
            context.route = route.template
            var decoded: [String: String] = [:]
            var failure: HTTPError?
            for (name, value) in raw {
                if let value = PercentDecoding.decode(value) { decoded[name] = value } else { failure = .badRequest("path parameter \(name) is not valid percent-encoded UTF-8") }
            }
            resolved = failure.map { .failure($0) } ?? .success((route, decoded))
        } else if !candidates.isEmpty {
            context.route = candidates[0].0.template
            var allowed = candidates.map(\.0.method)
            if allowed.contains("GET") { allowed.append("HEAD") }
            resolved = .failure(.methodNotAllowed(allowed: allowed))
        } else {
            resolved = .failure(.notFound("no route for \(request.method) \(request.path)"))
        }
        context.parameters = (try? resolved.get().1) ?? [:]
        let final: Handler = { request, context in
            try resolved.get().0.handler(request, context)
        }
        let chain = middleware.reversed().reduce(final) { next, middleware in
            { request, context in try middleware.handle(request, context: context, next: next) }
        }
        do {
            return try chain(request, context)
        } catch {
            return ErrorMapping.response(for: error, context: context)
        }
    }
}
