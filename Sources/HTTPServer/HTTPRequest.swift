import Foundation

/// The request line and header fields.
public struct RequestHead: Sendable {
    public var method: String
    /// The request target as sent, such as `/classify?top_k=3`.
    public var target: String
    /// "HTTP/1.1" or "HTTP/1.0".
    public var version: String
    public var headers: HTTPHeaders

    /// The path, percent-decoded.
    public var path: String {
        let raw = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? target
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

    public var method: String { head.method }
    public var path: String { head.path }
    public var headers: HTTPHeaders { head.headers }

    public init(head: RequestHead, body: Data) {
        self.head = head
        self.body = body
    }
}
