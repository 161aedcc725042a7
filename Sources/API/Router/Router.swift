// The router: route templates with `{parameters}`, method dispatch (404 / 405 + Allow), the
// middleware chain, and the single place where thrown errors become problem responses.
import Foundation
import Logging

package typealias Handler = @Sendable (HTTPRequest, RequestContext) throws -> HTTPResponse

package final class Route: Sendable {
    package let method: String
    /// The template as documented (`{key...}` is shown as `{key}`).
    package let template: String
    let segments: [Segment]
    let action: Action
    /// The handler never waits on disk, flushes or locks held across IO (or says so with
    /// `HTTPResponse.needsWorker` when `context.mayBlock` is false), so the server may run it on
    /// its event-loop thread. Every other route runs on a worker thread.
    let inline: Bool

    enum Action: Sendable {
        case respond(Handler)
        case stream(StreamOpener)
    }

    enum Segment: Sendable, Equatable {
        case literal([UInt8])
        case parameter(String)
        /// `{name...}`: the rest of the path, slashes included (object keys).
        case remainder(String)
    }

    init(method: String, template: String, action: Action, inline: Bool = false) {
        self.method = method
        self.action = action
        self.inline = inline
        segments = template.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { part in
            guard part.hasPrefix("{") && part.hasSuffix("}") else { return .literal(Array(part.utf8)) }
            let name = part.dropFirst().dropLast()
            return name.hasSuffix("...") ? .remainder(String(name.dropLast(3))) : .parameter(String(name))
        }
        self.template = template.replacingOccurrences(of: "...}", with: "}")
    }

    /// Raw (still encoded) parameter values when `path` matches this template. Walks the path's
    /// bytes segment by segment (no split); most routes tried for a request do not match, so the
    /// parameters are collected only once the path is known to match.
    func match(_ path: String) -> [String: String]? {
        guard walk(path, collecting: false) != nil else { return nil }
        return walk(path, collecting: true)
    }

    private func walk(_ path: String, collecting: Bool) -> [String: String]? {
        let bytes = path.utf8
        let end = bytes.endIndex
        guard var position = bytes.firstIndex(of: UInt8(ascii: "/")) else { return nil }
        var parameters: [String: String] = [:]
        for (index, segment) in segments.enumerated() {
            let start = bytes.index(after: position)
            if case .remainder(let name) = segment {
                guard start < end else { return nil }
                if collecting { parameters[name] = String(path[start..<end]) }
                return parameters
            }
            let stop = bytes[start...].firstIndex(of: UInt8(ascii: "/")) ?? end
            switch segment {
            case .literal(let literal):
                guard Self.equal(bytes[start..<stop], literal) else { return nil }
            case .parameter(let name):
                guard start < stop else { return nil }
                if collecting { parameters[name] = String(path[start..<stop]) }
            case .remainder:
                break
            }
            // The last segment must end the path; any other must be followed by a slash.
            if index == segments.count - 1 { return stop == end ? parameters : nil }
            guard stop < end else { return nil }
            position = stop
        }
        return nil
    }

    /// Byte comparison on the path's contiguous storage (generic `elementsEqual` was a visible
    /// share of a cache-hit GET).
    private static func equal(_ bytes: Substring.UTF8View, _ literal: [UInt8]) -> Bool {
        guard bytes.count == literal.count else { return false }
        return bytes.withContiguousStorageIfAvailable { stored in
            literal.withUnsafeBufferPointer { memcmp(stored.baseAddress!, $0.baseAddress!, literal.count) == 0 }
        } ?? bytes.elementsEqual(literal)
    }
}

/// What the server does with a request whose route streams its body.
package enum StreamOpening {
    case sink(any RequestBodySink, RequestContext)
    case response(HTTPResponse)
}

package struct Router: Sendable {
    package private(set) var routes: [Route] = []
    /// The routes of each method, in registration order (a request looks only at its method's).
    private var byMethod: [String: [Route]] = [:]
    /// Methods that have a streaming route (most requests are decided without splitting the path).
    private var streamingMethods: Set<String> = []
    private var middleware: [any Middleware] = []

    package init() {}

    /// `inline`: see `Route.inline`; only for handlers that cannot block (or check `mayBlock`).
    package mutating func add(_ method: String, _ template: String, inline: Bool = false, _ handler: @escaping Handler) {
        append(Route(method: method, template: template, action: .respond(handler), inline: inline))
    }

    /// A route whose request body is streamed into the sink `open` returns.
    package mutating func addStreaming(_ method: String, _ template: String, inline: Bool = false, _ open: @escaping StreamOpener) {
        append(Route(method: method, template: template, action: .stream(open), inline: inline))
        streamingMethods.insert(method)
    }

    private mutating func append(_ route: Route) {
        routes.append(route)
        byMethod[route.method, default: []].append(route)
    }

    /// Whether this request's route streams its body (decided from method and path alone).
    package func streamsBody(method: String, path: String) -> Bool {
        guard streamingMethods.contains(method) else { return false }
        return routes.contains { $0.method == method && $0.match(path) != nil && { if case .stream = $0.action { true } else { false } }($0) }
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

    /// The response that refuses a request from its head alone (auth), before any body is
    /// buffered; nil when the body is needed to decide.
    package func refusal(ofHead head: HTTPRequest, context: RequestContext) -> HTTPResponse? {
        for middleware in middleware {
            if let error = middleware.refusal(ofHead: head) { return ErrorMapping.response(for: error, context: context) }
        }
        return nil
    }

    /// Tells middleware that a streamed request finished with `status`.
    package func completed(_ request: HTTPRequest, context: RequestContext, status: Int, duration: Duration) {
        for middleware in middleware { middleware.completed(request, context: context, status: status, duration: duration) }
    }

    package mutating func use(_ middleware: any Middleware) {
        self.middleware.append(middleware)
        // The chain is composed once, not per request: outermost first.
        chain = self.middleware.reversed().reduce(Self.dispatch) { next, middleware in
            { request, context in try middleware.handle(request, context: context, next: next) }
        }
    }

    /// The middleware around `dispatch`.
    private var chain: Handler = Router.dispatch

    /// Dispatches a request through the middleware to its handler; never throws: every error is
    /// turned into a problem response here. With `context.mayBlock` false, answers
    /// `HTTPResponse.needsWorker` instead of running a handler that could block.
    package func respond(to request: HTTPRequest, context: RequestContext) -> HTTPResponse {
        respond(to: request, context: context, opened: nil)
    }

    private func respond(to request: HTTPRequest, context: RequestContext, opened: OpenedSink?) -> HTTPResponse {
        var context = context
        context.opened = opened
        let method = request.method == "HEAD" ? "GET" : request.method
        var found: (Route, [String: String])?
        for route in byMethod[method] ?? [] {
            if let raw = route.match(request.path) {
                found = (route, raw)
                break
            }
        }
        if let (route, raw) = found {
            context.route = route.template
            var decoded: [String: String] = [:]
            var failure: HTTPError?
            for (name, value) in raw {
                if let value = PercentDecoding.decode(value) { decoded[name] = value } else { failure = .badRequest("path parameter \(name) is not valid percent-encoded UTF-8") }
            }
            if let failure {
                context.resolution = .failure(failure)
            } else if !context.mayBlock && !route.inline {
                return .needsWorker
            } else {
                context.parameters = decoded
                context.resolution = .success(route.action)
            }
        } else {
            // Not for this method: 405 with the methods the path has, or 404.
            let candidates = routes.filter { $0.match(request.path) != nil }
            if let first = candidates.first {
                context.route = first.template
                var allowed = candidates.map(\.method)
                if allowed.contains("GET") { allowed.append("HEAD") }
                context.resolution = .failure(.methodNotAllowed(allowed: allowed))
            } else {
                context.resolution = .failure(.notFound("no route for \(request.method) \(request.path)"))
            }
        }
        do {
            return try chain(request, context)
        } catch {
            return ErrorMapping.response(for: error, context: context)
        }
    }

    /// The innermost handler: runs what `respond` resolved.
    private static let dispatch: Handler = { request, context in
        switch try context.resolution!.get() {
        case .respond(let handler):
            return try handler(request, context)
        case .stream(let open):
            guard let opened = context.opened else { throw HTTPError.badRequest("this route needs a streamed body") }
            opened.sink = try open(request, context)
            // Handed back without itself: a context holding `opened` would keep the sink (and
            // everything the upload holds) alive for ever.
            var handedBack = context
            handedBack.opened = nil
            opened.context = handedBack
            return .streamOpened
        }
    }
}

/// Carries the opened sink out of the middleware chain.
final class OpenedSink: @unchecked Sendable {
    // @unchecked: used by one thread, within one `open` call.
    var sink: (any RequestBodySink)?
    var context: RequestContext?
}
