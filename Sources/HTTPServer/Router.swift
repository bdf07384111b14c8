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

    private var routes: [String: [String: Handler]] = [:]

    public init() {}

    public mutating func add(_ method: String, _ path: String, _ handler: @escaping Handler) {
        routes[path, default: [:]][method.uppercased()] = handler
    }

    /// The route's name for metrics and logs: the path if it is routed, else "unmatched".
    public func routeName(for path: String) -> String { routes[path] == nil ? "unmatched" : path }

    public func handle(_ request: HTTPRequest, context: RequestContext) async -> HTTPResponse {
        guard let methods = routes[request.path] else {
            return .problem(status: 404, detail: "no resource at \(request.path)")
        }
        let method = request.method == "HEAD" && methods["HEAD"] == nil ? "GET" : request.method
        guard let handler = methods[method] else {
            var allowed = Set(methods.keys)
            if allowed.contains("GET") { allowed.insert("HEAD") }
            return .problem(status: 405, detail: "\(request.method) is not allowed on \(request.path)",
                            headers: ["Allow": allowed.sorted().joined(separator: ", ")])
        }
        do {
            return try await handler(request, context)
        } catch let error as HTTPResponseError {
            return error.response
        } catch {
            return .problem(status: 500, detail: "internal error; the request id \(context.requestID) identifies it in the logs")
        }
    }
}
