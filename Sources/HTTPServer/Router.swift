import Foundation
import Synchronization

/// What a handler knows about the request beyond its bytes.
public final class RequestContext: Sendable {
    /// The client's `X-Request-Id`, or one made up; echoed on the response.
    public let requestID: String
    private let cancelled = Atomic<Bool>(false)

    public init(requestID: String) {
        self.requestID = requestID
    }

    /// True once the client has gone away: work for this request can be dropped.
    public var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    func cancel() { cancelled.store(true, ordering: .releasing) }
}

/// Method and path -> handler, with 404, 405 + Allow, HEAD served by GET, and thrown errors answered as
/// problem+json through `HTTPResponseError` (anything else is a 500 that says nothing of internals).
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

    public init() {}

    public mutating func add(_ method: String, _ path: String, _ handler: @escaping Handler) {
        routes[path, default: [:]][method.uppercased()] = .task(handler)
    }

    /// Adds a route whose handler must return at once: it runs on the event loop thread.
    public mutating func addInline(_ method: String, _ path: String, _ handler: @escaping InlineHandler) {
        routes[path, default: [:]][method.uppercased()] = .inline(handler)
    }

    /// The route's name for metrics and logs: the path if it is routed, else "unmatched".
    public func routeName(for path: String) -> String { routes[path] == nil ? "unmatched" : path }

    /// The response when it can be had without waiting (an inline route, 404, 405); nil for a task route.
    public func immediateResponse(_ request: HTTPRequest, context: RequestContext) -> HTTPResponse? {
        switch lookup(request) {
        case .refused(let response): response
        case .route(.inline(let handler)): Self.answer(context) { try handler(request, context) }
        case .route(.task): nil
        }
    }

    public func handle(_ request: HTTPRequest, context: RequestContext) async -> HTTPResponse {
        switch lookup(request) {
        case .refused(let response): return response
        case .route(.inline(let handler)): return Self.answer(context) { try handler(request, context) }
        case .route(.task(let handler)):
            do {
                return try await handler(request, context)
            } catch {
                return Self.response(for: error, context)
            }
        }
    }

    private enum Lookup {
        case refused(HTTPResponse)
        case route(Route)
    }

    private func lookup(_ request: HTTPRequest) -> Lookup {
        guard let methods = routes[request.path] else {
            return .refused(.problem(status: 404, detail: "no resource at \(request.path)"))
        }
        let method = request.method == "HEAD" && methods["HEAD"] == nil ? "GET" : request.method
        guard let route = methods[method] else {
            var allowed = Set(methods.keys)
            if allowed.contains("GET") { allowed.insert("HEAD") }
            return .refused(.problem(status: 405, detail: "\(request.method) is not allowed on \(request.path)",
                                     headers: ["Allow": allowed.sorted().joined(separator: ", ")]))
        }
        return .route(route)
    }

    private static func answer(_ context: RequestContext, _ body: () throws -> HTTPResponse) -> HTTPResponse {
        do { return try body() } catch { return response(for: error, context) }
    }

    private static func response(for error: Error, _ context: RequestContext) -> HTTPResponse {
        if let error = error as? HTTPResponseError { return error.response }
        return .problem(status: 500, detail: "internal error; the request id \(context.requestID) identifies it in the logs")
    }
}
