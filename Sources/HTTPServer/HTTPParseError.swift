/// A request the server refuses before any handler sees it; the connection closes after the answer.
public struct HTTPParseError: HTTPResponseError, Equatable, CustomStringConvertible {
    public var status: HTTPStatus
    public var detail: String
    /// The head's fields, when the request was refused after its head was read (a body over the limit): what a
    /// CORS policy reads the origin from.
    public var requestHeaders: HTTPHeaders?

    public init(_ status: HTTPStatus, _ detail: String, requestHeaders: HTTPHeaders? = nil) {
        self.status = status
        self.detail = detail
        self.requestHeaders = requestHeaders
    }

    public static func == (a: HTTPParseError, b: HTTPParseError) -> Bool { a.status == b.status && a.detail == b.detail }

    public var description: String { "\(status) \(detail)" }
}

/// Bounds on what one request may make the server hold.
public struct HTTPLimits: Sendable {
    /// Longest request line (method, target, version); over it: 414.
    public var maxRequestLine = 8 * 1024
    /// Largest header section (and trailer section); over it: 431.
    public var maxHeaderBytes = 16 * 1024
    /// Most header fields (and trailer fields); over it: 431.
    public var maxHeaderFields = 100
    /// Largest body; over it: 413, without reading the rest.
    public var maxBodyBytes = 64 * 1024 * 1024

    public init() {}
}
