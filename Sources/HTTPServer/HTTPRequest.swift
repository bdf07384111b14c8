import Foundation

/// The request line and header fields.
public struct RequestHead: Sendable {
    public var method: String
    /// The request target as sent, such as `/classify?top_k=3`.
    public var target: String {
        didSet { path = Self.decodedPath(target) }
    }
    /// "HTTP/1.1" or "HTTP/1.0".
    public var version: String
    public var headers: HTTPHeaders
    /// The path, percent-decoded (computed once: routing, logs and metrics all read it).
    public private(set) var path: String

    public init(method: String, target: String, version: String, headers: HTTPHeaders) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        path = Self.decodedPath(target)
    }

    static func decodedPath(_ target: String) -> String {
        let raw = target.firstIndex(of: "?").map { String(target[..<$0]) } ?? target
        guard raw.utf8.contains(UInt8(ascii: "%")) else { return raw }
        return raw.removingPercentEncoding ?? raw
    }

    /// Query parameters in order, percent- and plus-decoded.
    public var query: [(name: String, value: String)] {
        guard let q = target.split(separator: "?", maxSplits: 1).dropFirst().first else { return [] }
        return q.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let plus = s.replacingOccurrences(of: "+", with: " ")
                return plus.removingPercentEncoding ?? plus
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    /// The first value of query parameter `name`.
    public func queryValue(_ name: String) -> String? {
        query.first { $0.name == name }?.value
    }

    /// Whether the connection stays open after this request (RFC 9112 section 9.3).
    public var keepAlive: Bool {
        let connection = headers.tokens("Connection")
        if connection.contains("close") { return false }
        return version == "HTTP/1.1" || connection.contains("keep-alive")
    }
}

/// A complete request.
public struct HTTPRequest: Sendable {
    public var head: RequestHead
    public var body: Data
    /// The values of the route's `{name}` path segments, set by the router.
    public var parameters: [String: String] = [:]

    public var method: String { head.method }
    public var path: String { head.path }
    public var headers: HTTPHeaders { head.headers }

    public init(head: RequestHead, body: Data) {
        self.head = head
        self.body = body
    }
}
