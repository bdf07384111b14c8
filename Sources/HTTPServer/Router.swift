import Foundation
import Synchronization

/// Method and path -> handler, with 404, 405 + Allow, HEAD served by GET, thrown errors answered as
/// problem+json through `HTTPResponseError` (anything else is a 500 that says nothing of internals), and JSON and
/// text answers compressed for clients that accept gzip or deflate (`ContentCoding.negotiate`).
public struct Router: Sendable {
    public typealias Handler = @Sendable (HTTPRequest, RequestContext) async throws -> HTTPResponse
    /// A handler that answers at once without blocking (health, labels, metrics): it runs on the event loop
    /// itself, saving the hop to a task and back.
    public typealias InlineHandler = @Sendable (HTTPRequest, RequestContext) throws -> HTTPResponse

    private enum Route {
        case task(Handler)
        case inline(InlineHandler)
    }

    private var routes: [String: [String: Route]] = [:]
    /// Asked before any route is looked up: a response refuses the request (a missing credential, say).
    public var admission: (@Sendable (HTTPRequest) -> HTTPResponse?)?
    /// Which pages on other origins may call the routes from a browser; nil: no CORS headers at all.
    public var cors: CORSPolicy?
    /// Routes with `{name}` segments, tried in the order added, only when no exact route matches: exact paths
    /// stay one dictionary lookup.
    private var templates: [(template: PathTemplate, methods: [String: Route])] = []

    public init() {}

    /// - Parameter path: an exact path, or a template whose `{name}` segments match any one non-empty segment,
    ///   read by the handler from `request.parameters[name]`.
    public mutating func add(_ method: String, _ path: String, _ handler: @escaping Handler) {
        insert(method, path, .task(handler))
    }

    /// Adds a route whose handler must return at once: it runs on the event loop thread.
    public mutating func addInline(_ method: String, _ path: String, _ handler: @escaping InlineHandler) {
        insert(method, path, .inline(handler))
    }

    private mutating func insert(_ method: String, _ path: String, _ route: Route) {
        guard let template = PathTemplate(path) else {
            routes[path, default: [:]][method.uppercased()] = route
            return
        }
        if let i = templates.firstIndex(where: { $0.template == template }) {
            templates[i].methods[method.uppercased()] = route
        } else {
            templates.append((template, [method.uppercased(): route]))
        }
    }

    /// The route's name for metrics and logs: the path if it is routed exactly, the template (`/v1/jobs/{id}`)
    /// if one matches, so ids never become label values; else "unmatched".
    public func routeName(for path: String) -> String {
        if routes[path] != nil { return path }
        return templates.first { $0.template.match(path) != nil }?.template.text ?? "unmatched"
    }

    /// How a request is answered: at once (an inline route, 404, 405), or by work to run off the event loop.
    public enum Dispatch: Sendable {
        case now(HTTPResponse)
        case later(@Sendable () async -> HTTPResponse)
    }

    /// Finds the request's route once and says how it is answered; handler errors become problem responses.
    /// With a CORS policy, preflights are answered before admission (browsers send them without credentials),
    /// and every other answer, the router's refusals included, carries the policy's headers. (The connection
    /// applies the same policy to the refusals it makes before a request is routed.)
    public func dispatch(_ request: HTTPRequest, context: RequestContext) -> Dispatch {
        guard let cors else { return route(request, context: context) }
        let headers = request.headers
        if CORSPolicy.isPreflight(method: request.method, headers: headers) {
            var routed = request
            guard let methods = methods(for: &routed) else {
                var missing = Self.notFound(request.path)
                cors.decorate(&missing, requestHeaders: headers)
                return .now(missing)
            }
            return .now(cors.preflight(headers, allowedMethods: Set(methods.keys)))
        }
        switch route(request, context: context) {
        case .now(var response):
            cors.decorate(&response, requestHeaders: headers)
            return .now(response)
        case .later(let work):
            return .later {
                var response = await work()
                cors.decorate(&response, requestHeaders: headers)
                return response
            }
        }
    }

    private func route(_ request: HTTPRequest, context: RequestContext) -> Dispatch {
        if let refusal = admission?(request) { return .now(refusal) }
        var routed = request
        let found = lookup(&routed)
        let request = routed
        let headers = request.headers
        switch found {
        case .refused(let response): return .now(ContentCoding.negotiate(response, requestHeaders: headers))
        case .route(.inline(let handler)):
            return .now(ContentCoding.negotiate(Self.answer(context) { try handler(request, context) }, requestHeaders: headers))
        case .route(.task(let handler)):
            return .later {
                let response: HTTPResponse
                do { response = try await handler(request, context) } catch { response = Self.response(for: error, context) }
                return ContentCoding.negotiate(response, requestHeaders: headers)
            }
        }
    }

    private enum Lookup {
        case refused(HTTPResponse)
        case route(Route)
    }

    /// The methods served at the request's path, with a template's parameters set on the request.
    private func methods(for request: inout HTTPRequest) -> [String: Route]? {
        if let exact = routes[request.path] { return exact }
        for entry in templates {
            if let parameters = entry.template.match(request.path) {
                request.parameters = parameters
                return entry.methods
            }
        }
        return nil
    }

    private static func notFound(_ path: String) -> HTTPResponse {
        .problem(status: .notFound, detail: "no resource at \(path)")
    }

    private func lookup(_ request: inout HTTPRequest) -> Lookup {
        guard let methods = methods(for: &request) else { return .refused(Self.notFound(request.path)) }
        let method = request.method == "HEAD" && methods["HEAD"] == nil ? "GET" : request.method
        guard let route = methods[method] else {
            var allowed = Set(methods.keys)
            if allowed.contains("GET") { allowed.insert("HEAD") }
            return .refused(.problem(status: .methodNotAllowed, detail: "\(request.method) is not allowed on \(request.path)",
                                     headers: ["Allow": allowed.sorted().joined(separator: ", ")]))
        }
        return .route(route)
    }

    private static func answer(_ context: RequestContext, _ body: () throws -> HTTPResponse) -> HTTPResponse {
        do { return try body() } catch { return response(for: error, context) }
    }

    private static func response(for error: Error, _ context: RequestContext) -> HTTPResponse {
        if let error = error as? HTTPResponseError { return error.response }
        return .problem(status: .internalServerError, detail: "internal error; the request id \(context.requestID) identifies it in the logs")
    }
}
