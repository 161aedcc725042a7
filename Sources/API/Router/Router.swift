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
    /// bytes segment by segment (no split, integer offsets on its contiguous storage); most routes
    /// tried for a request do not match, so no value is made until the whole path matched.
    func match(_ path: String) -> [String: String]? {
        var path = path
        path.makeContiguousUTF8()
        return path.utf8.withContiguousStorageIfAvailable { bytes -> [String: String]? in
            guard let ranges = walk(bytes) else { return nil }
            var parameters = [String: String](minimumCapacity: ranges.count)
            for (name, range) in ranges { parameters[name] = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self) }
            return parameters
        } ?? nil
    }

    /// The byte ranges of the parameters when `bytes` matches, else nil.
    private func walk(_ bytes: UnsafeBufferPointer<UInt8>) -> [(String, Range<Int>)]? {
        let end = bytes.count
        // Only an absolute path matches (`x/v1/volumes` is not `/v1/volumes`).
        guard end > 0, bytes[0] == UInt8(ascii: "/") else { return nil }
        var position = 0
        var ranges: [(String, Range<Int>)] = []
        for (index, segment) in segments.enumerated() {
            let start = position + 1
            if case .remainder(let name) = segment {
                guard start < end else { return nil }
                ranges.append((name, start..<end))
                return ranges
            }
            var stop = start
            while stop < end, bytes[stop] != UInt8(ascii: "/") { stop += 1 }
            switch segment {
            case .literal(let literal):
                guard stop - start == literal.count,
                    literal.withUnsafeBufferPointer({ $0.isEmpty || memcmp(bytes.baseAddress! + start, $0.baseAddress!, $0.count) == 0 })
                else { return nil }
            case .parameter(let name):
                guard start < stop else { return nil }
                ranges.append((name, start..<stop))
            case .remainder:
                break
            }
            // The last segment must end the path; any other must be followed by a slash.
            if index == segments.count - 1 { return stop == end ? ranges : nil }
            guard stop < end else { return nil }
            position = stop
        }
        return nil
    }
}

/// What the server does with a request whose route streams its body.
package enum StreamOpening {
    case sink(any RequestBodySink, RequestContext)
    case response(HTTPResponse)
}

/// What the middleware chain and the handlers produce: an answer, or (a streaming route) an
/// opened body sink that answers once the body is in.
package enum RouteOutcome {
    case response(HTTPResponse)
    case opened(any RequestBodySink, RequestContext)
}

/// What running a resolved request gave: an outcome, or "nothing was done, run it on a worker"
/// (on an event loop, a route or handler that would wait).
package enum RunOutcome {
    case response(HTTPResponse)
    case opened(any RequestBodySink, RequestContext)
    /// Run it again on a worker, with this context (nil: as it came; else what the loop's run
    /// established, such as the authenticated caller).
    case needsWorker(RequestContext?)
}

/// A request's route, resolved once from its method and path: the route (with its decoded
/// parameters) or the error to answer (404, 405, a bad parameter). Travels with the request.
package struct RouteResolution: Sendable {
    /// The route template, or `unmatched`; metrics are labelled by it.
    package let template: String
    package let outcome: Result<(route: Route, parameters: [String: String]), HTTPError>

    /// Whether the request's body is streamed into a sink (a streaming route).
    package var streamsBody: Bool {
        guard case .success(let found) = outcome, case .stream = found.route.action else { return false }
        return true
    }

    /// Whether it may run on the event loop (an inline route, or an error answer).
    var runsInline: Bool {
        guard case .success(let found) = outcome else { return true }
        return found.route.inline
    }
}

package typealias Next = @Sendable (HTTPRequest, RequestContext) throws -> RouteOutcome

package struct Router: Sendable {
    package private(set) var routes: [Route] = []
    private var byMethod: [String: [Route]] = [:]
    private var middleware: [any Middleware] = []

    /// How errors become answers: problem+json on the admin API, S3 XML on the S3 listener.
    package let errorResponse: @Sendable (any Error, RequestContext) -> HTTPResponse

    package init(errorResponse: @escaping @Sendable (any Error, RequestContext) -> HTTPResponse = { ErrorMapping.response(for: $0, context: $1) }) {
        self.errorResponse = errorResponse
    }

    /// The path a request is routed by, from the path as sent and its Host header (nil: as sent):
    /// S3's virtual-host-style addressing puts the bucket named in the host first.
    package var pathForHost: (@Sendable (_ sentPath: String, _ host: String?) -> String?)?

    /// The path `sentPath` is routed by (`host` is asked for only when the router routes by host).
    package func routedPath(_ sentPath: String, host: @autoclosure () -> String?) -> String {
        guard let pathForHost else { return sentPath }
        return pathForHost(sentPath, host()) ?? sentPath
    }

    package mutating func add(_ method: String, _ template: String, inline: Bool = false, _ handler: @escaping Handler) {
        append(Route(method: method, template: template, action: .respond(handler), inline: inline))
    }

    package mutating func addStreaming(_ method: String, _ template: String, inline: Bool = false, _ open: @escaping StreamOpener) {
        append(Route(method: method, template: template, action: .stream(open), inline: inline))
    }

    private mutating func append(_ route: Route) {
        routes.append(route)
        byMethod[route.method, default: []].append(route)
    }

    /// Requests for volumes another node of the fleet serves (nil: not in a fleet).
    private var forwarding: Forwarding?

    struct Forwarding: Sendable {
        let target: @Sendable (_ path: String) -> ForwardTarget?
        let route: Route
        /// The parameter the volume's name is in (`name`, or S3's `bucket`).
        let parameter: String
    }

    /// Requests whose path `target` maps to a volume another node serves go to `open` (a
    /// streaming route of any method, `template` in metrics), unless they were forwarded already.
    package mutating func forward(
        template: String, parameter: String, target: @escaping @Sendable (String) -> ForwardTarget?, open: @escaping StreamOpener
    ) {
        forwarding = Forwarding(target: target, route: Route(method: "*", template: template, action: .stream(open)), parameter: parameter)
    }

    package var forwards: Bool { forwarding != nil }

    /// Finds the route for `method` and `path` (HEAD is served by GET routes), once per request;
    /// with `forwardable`, a volume another node of the fleet serves resolves to the forwarding route.
    package func resolve(method: String, path: String, forwardable: Bool = false) -> RouteResolution {
        if forwardable, let forwarding, let target = forwarding.target(path) {
            let template = forwarding.route.template
            guard let node = target.node, let base = target.base else {
                return RouteResolution(
                    template: template,
                    outcome: .failure(
                        .unavailable("volume \(target.volume) is served by no node of the fleet now (its pool's owner is gone); retry shortly")))
            }
            return RouteResolution(
                template: template,
                outcome: .success(
                    (forwarding.route, [forwarding.parameter: target.volume, ForwardTarget.nodeParameter: node, ForwardTarget.baseParameter: base])))
        }
        let lookup = method == "HEAD" ? "GET" : method
        for route in byMethod[lookup] ?? [] {
            guard let raw = route.match(path) else { continue }
            var decoded = [String: String](minimumCapacity: raw.count)
            for (name, value) in raw {
                guard let value = PercentDecoding.decode(value), !value.utf8.contains(0) else {
                    return RouteResolution(
                        template: route.template,
                        outcome: .failure(.invalidURI("path parameter \(name) is not valid percent-encoded UTF-8 without NUL")))
                }
                decoded[name] = value
            }
            return RouteResolution(template: route.template, outcome: .success((route, decoded)))
        }
        // Not for this method: 405 with the methods the path has, or 404.
        let candidates = routes.filter { $0.match(path) != nil }
        guard let first = candidates.first else {
            return RouteResolution(template: "unmatched", outcome: .failure(.notFound("no route for \(method) \(path)")))
        }
        var allowed = candidates.map(\.method)
        if allowed.contains("GET") { allowed.append("HEAD") }
        return RouteResolution(template: first.template, outcome: .failure(.methodNotAllowed(allowed: allowed)))
    }

    /// The answer a request with a body gets whatever its body is, from its head alone (no route,
    /// a malformed target, authentication), or nil: its body is then dropped as it comes, never buffered.
    package func refusal(ofHead head: HTTPRequest, _ resolution: RouteResolution, context: RequestContext) -> HTTPResponse? {
        var context = context
        context.resource = PercentDecoding.resource(head.path)
        context.route = resolution.template
        if case .failure(let error) = resolution.outcome { return errorResponse(error, context) }
        for middleware in middleware {
            if let error = middleware.refusal(ofHead: head) { return errorResponse(error, context) }
        }
        return nil
    }

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
    private var chain: Next = Router.dispatch

    /// Runs a resolved request through the middleware to its handler; never throws: every error
    /// becomes a problem response here. With `context.mayBlock` false (the event loop), a route
    /// that is not inline, or a handler that would wait (`NeedsWorker`), gives `.needsWorker`.
    package func run(_ request: HTTPRequest, _ resolution: RouteResolution, context: RequestContext) -> RunOutcome {
        if !context.mayBlock && !resolution.runsInline { return .needsWorker(nil) }
        var context = context
        context.route = resolution.template
        context.resource = PercentDecoding.resource(request.path)  // What an S3 error names.
        if case .success(let found) = resolution.outcome { context.parameters = found.parameters }
        // A target that cannot be a key at all is answered before authentication (which would
        // otherwise report a signature mismatch over bytes no client could have meant).
        if case .failure(let error) = resolution.outcome, case .invalidURI = error { return .response(errorResponse(error, context)) }
        context.resolution = resolution.outcome.map(\.route.action)
        do {
            switch try chain(request, context) {
            case .response(let response): return .response(response)
            case .opened(let sink, let context): return .opened(sink, context)
            }
        } catch let needs as NeedsWorker {
            return .needsWorker(needs.context)
        } catch {
            return .response(errorResponse(error, context))
        }
    }

    /// Resolves and runs a request that may block, for its response (tests, tools).
    package func respond(to request: HTTPRequest, context: RequestContext) -> HTTPResponse {
        switch run(request, resolve(method: request.method, path: request.path), context: context) {
        case .response(let response): return response
        case .opened(let sink, let context):
            sink.abort()
            return errorResponse(HTTPError.badRequest("this route needs a streamed body"), context)
        case .needsWorker: preconditionFailure("respond(to:) is for requests that may block")
        }
    }

    /// Resolves and runs a streaming request's head (tests).
    package func open(_ request: HTTPRequest, context: RequestContext) -> StreamOpening {
        switch run(request, resolve(method: request.method, path: request.path), context: context) {
        case .response(let response): return .response(response)
        case .opened(let sink, let context): return .sink(sink, context)
        case .needsWorker: preconditionFailure("open(_:context:) is for requests that may block")
        }
    }

    /// The innermost handler: runs what `resolve` found.
    private static let dispatch: Next = { request, context in
        do {
            switch try context.resolution!.get() {
            case .respond(let handler):
                return .response(try handler(request, context))
            case .stream(let open):
                return .opened(try open(request, context), context)
            }
        } catch var needs as NeedsWorker {
            needs.context = context  // What the middleware established travels to the worker.
            throw needs
        }
    }
}
