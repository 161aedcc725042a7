// The router: route templates with `{parameters}`, method dispatch (404 / 405 + Allow), the
// middleware chain, and the single place where thrown errors become problem responses.
import Foundation
import Logging

package typealias Handler = @Sendable (HTTPRequest, RequestContext) throws -> HTTPResponse

package struct Route: Sendable {
    package var method: String
    /// The template as documented (`{key...}` is shown as `{key}`).
    package var template: String
    let segments: [Segment]
    let action: Action

    enum Action: Sendable {
        case respond(Handler)
        case stream(StreamOpener)
    }

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
        /// `{name...}`: the rest of the path, slashes included (object keys).
        case remainder(String)
    }

    init(method: String, template: String, action: Action) {
        self.method = method
        self.action = action
        segments = template.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { part in
            guard part.hasPrefix("{") && part.hasSuffix("}") else { return .literal(String(part)) }
            let name = part.dropFirst().dropLast()
            return name.hasSuffix("...") ? .remainder(String(name.dropLast(3))) : .parameter(String(name))
        }
        self.template = template.replacingOccurrences(of: "...}", with: "}")
    }

    /// Raw (still encoded) parameter values when `parts` matches this template.
    func match(_ parts: [Substring]) -> [String: String]? {
        // Cheap rejections first: segment count, then the literal segments.
        if case .remainder = segments.last { if parts.count < segments.count { return nil } } else if parts.count != segments.count { return nil }
        for (index, segment) in segments.enumerated() {
            if case .literal(let literal) = segment, parts[index] != literal { return nil }
        }
        var parameters: [String: String] = [:]
        for (index, segment) in segments.enumerated() {
            switch segment {
            case .remainder(let name):
                guard index < parts.count else { return nil }
                let rest = parts[index...].joined(separator: "/")
                if rest.isEmpty { return nil }
                parameters[name] = rest
                return parameters
            case .literal(let literal):
                guard index < parts.count, parts[index] == literal else { return nil }
            case .parameter(let name):
                guard index < parts.count, !parts[index].isEmpty else { return nil }
                parameters[name] = String(parts[index])
            }
        }
        return parts.count == segments.count ? parameters : nil
    }
}

/// What the server does with a request whose route streams its body.
package enum StreamOpening {
    case sink(any RequestBodySink, RequestContext)
    case response(HTTPResponse)
}

package struct Router: Sendable {
    package private(set) var routes: [Route] = []
    /// Methods that have a streaming route (most requests are decided without splitting the path).
    private var streamingMethods: Set<String> = []
    private var middleware: [any Middleware] = []

    package init() {}

    package mutating func add(_ method: String, _ template: String, _ handler: @escaping Handler) {
        routes.append(Route(method: method, template: template, action: .respond(handler)))
    }

    /// A route whose request body is streamed into the sink `open` returns.
    package mutating func addStreaming(_ method: String, _ template: String, _ open: @escaping StreamOpener) {
        routes.append(Route(method: method, template: template, action: .stream(open)))
        streamingMethods.insert(method)
    }

    /// Whether this request's route streams its body (decided from method and path alone).
    package func streamsBody(method: String, path: String) -> Bool {
        guard streamingMethods.contains(method) else { return false }
        let parts = Self.split(path)
        return routes.contains { $0.method == method && $0.match(parts) != nil && { if case .stream = $0.action { true } else { false } }($0) }
    }

    /// Runs the middleware chain for a streaming route and opens its sink, or returns the response
    /// that refuses it (auth, validation, space).
    package func open(_ request: HTTPRequest, context: RequestContext) -> StreamOpening {
        let opened = OpenedSink()
        let response = respond(to: request, context: context, opened: opened)
        if response.status == HTTPResponse.streamOpened.status, let sink = opened.sink, let context = opened.context {
            return .sink(sink, context)
        }
        return .response(response)
    }

    /// Tells middleware that a streamed request finished with `status`.
    package func completed(_ request: HTTPRequest, context: RequestContext, status: Int, duration: Duration) {
        for middleware in middleware { middleware.completed(request, context: context, status: status, duration: duration) }
    }

    private static func split(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { $0 }
    }

    package mutating func use(_ middleware: any Middleware) {
        self.middleware.append(middleware)
    }

    /// Dispatches a request through the middleware to its handler; never throws: every error is
    /// turned into a problem response here.
    package func respond(to request: HTTPRequest, context: RequestContext) -> HTTPResponse {
        respond(to: request, context: context, opened: nil)
    }

    private func respond(to request: HTTPRequest, context: RequestContext, opened: OpenedSink?) -> HTTPResponse {
        var context = context
        let parts = Self.split(request.path)
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
            switch try resolved.get().0.action {
            case .respond(let handler):
                return try handler(request, context)
            case .stream(let open):
                guard let opened else { throw HTTPError.badRequest("this route needs a streamed body") }
                opened.sink = try open(request, context)
                opened.context = context
                return .streamOpened
            }
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

/// Carries the opened sink out of the middleware chain.
private final class OpenedSink: @unchecked Sendable {
    // @unchecked: used by one thread, within one `open` call.
    var sink: (any RequestBodySink)?
    var context: RequestContext?
}
