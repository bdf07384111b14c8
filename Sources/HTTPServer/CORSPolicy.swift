import Foundation

/// Which web pages on other origins may call the server from a browser: the CORS protocol of the Fetch standard
/// (https://fetch.spec.whatwg.org/#http-cors-protocol). Without a policy no answer carries CORS headers, and
/// browsers keep pages on other origins from reading them.
///
/// Pages send bearer tokens in `Authorization`, not cookies, so credentials are never allowed and `*` is safe to
/// offer. Requested headers are allowed as asked: the server acts only on the ones it knows, so allowing others
/// lets a page through (axios and jQuery add their own) without letting it do anything more.
public struct CORSPolicy: Sendable, Equatable {
    public enum Origins: Sendable, Equatable {
        case any
        /// Serialized origins (`https://app.example.com:8443`), scheme and host lowercased as browsers send them.
        case list(Set<String>)
    }

    public let origins: Origins

    /// How long a browser may reuse a preflight's answer.
    public static let maxAgeSeconds = 600
    /// Response headers a page may read besides the safelisted ones (Content-Type and the like).
    public static let exposedHeaders = ["X-Request-Id", "Retry-After", "Location", "WWW-Authenticate", "ETag",
                                        "Content-Disposition", "Idempotent-Replayed", "Inference-Header-Content-Length"]

    /// `*` or the origins, sorted, for logs.
    public var description: String {
        switch origins {
        case .any: "*"
        case .list(let list): list.sorted().joined(separator: ",")
        }
    }

    public init(origins: Origins) {
        self.origins = origins
    }

    /// `*`, or comma-separated origins: `http` or `https`, a host and an optional port, with no path.
    /// Returns nil when any entry is not one.
    public init?(parsing text: String) {
        let entries = text.split(separator: ",").map { $0.trimmingHTTPWhitespace() }
        if entries == ["*"] {
            origins = .any
            return
        }
        var list = Set<String>()
        for entry in entries {
            guard let origin = Self.serializedOrigin(entry) else { return nil }
            list.insert(origin)
        }
        guard !list.isEmpty else { return nil }
        origins = .list(list)
    }

    /// `scheme://host[:port]` lowercased, or nil.
    static func serializedOrigin(_ text: String) -> String? {
        let lowered = text.lowercased()
        guard let scheme = ["http://", "https://"].first(where: lowered.hasPrefix) else { return nil }
        let authority = lowered.dropFirst(scheme.count)
        var host = Substring(authority), port: Substring?
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            host = authority[..<colon]
            port = authority[authority.index(after: colon)...]
        }
        let hostCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789.-[]:")
        guard !host.isEmpty, host.unicodeScalars.allSatisfy(hostCharacters.contains) else { return nil }
        if let port {
            guard !port.isEmpty, port.count <= 5, port.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(port), (1...65535).contains(value) else {
                return nil
            }
        }
        return String(lowered)
    }

    /// Whether a request is a CORS preflight: OPTIONS with an `Origin` and the method the page means to use.
    public static func isPreflight(method: String, headers: HTTPHeaders) -> Bool {
        method == "OPTIONS" && headers["Origin"] != nil && headers["Access-Control-Request-Method"] != nil
    }

    /// The answer to a preflight (a request `isPreflight` accepts). A listed origin gets 204 naming the route's
    /// methods; another origin 403 without CORS headers, so its browser refuses the request it meant to send.
    /// - Parameter allowedMethods: the methods the path's route serves.
    public func preflight(_ headers: HTTPHeaders, allowedMethods: Set<String>) -> HTTPResponse {
        let origin = headers["Origin"] ?? "null"
        guard let allowOrigin = allowOrigin(for: origin) else {
            return .problem(status: .forbidden, detail: "pages from \(origin) may not call this service; --cors-origins lists the origins that may")
        }
        let requested = headers.tokens("Access-Control-Request-Headers")
        guard requested.allSatisfy({ $0.utf8.allSatisfy(RequestParser.isTokenCharacter) }) else {
            return .problem(status: .badRequest, detail: "Access-Control-Request-Headers must list header names")
        }
        var methods = allowedMethods
        if methods.contains("GET") { methods.insert("HEAD") }
        var response = HTTPResponse(status: .noContent)
        response.headers.set("Access-Control-Allow-Origin", allowOrigin)
        response.headers.set("Access-Control-Allow-Methods", methods.sorted().joined(separator: ", "))
        if !requested.isEmpty { response.headers.set("Access-Control-Allow-Headers", requested.joined(separator: ", ")) }
        response.headers.set("Access-Control-Max-Age", "\(Self.maxAgeSeconds)")
        let varies = (origins == .any ? [] : ["Origin"]) + ["Access-Control-Request-Method", "Access-Control-Request-Headers"]
        response.headers.add("Vary", varies.joined(separator: ", "))
        return response
    }

    /// Lets the requesting page read `response` when its origin is allowed. With a list of origins every answer
    /// varies by `Origin`, so a cache never gives one origin's answer to another.
    public func decorate(_ response: inout HTTPResponse, requestHeaders: HTTPHeaders) {
        if origins != .any { response.headers.add("Vary", "Origin") }
        guard let allowOrigin = allowOrigin(for: requestHeaders["Origin"]) else { return }
        response.headers.set("Access-Control-Allow-Origin", allowOrigin)
        response.headers.set("Access-Control-Expose-Headers", Self.exposedHeaders.joined(separator: ", "))
    }

    /// `Access-Control-Allow-Origin`'s value for a request from `origin`, or nil when it may not read the answer.
    private func allowOrigin(for origin: String?) -> String? {
        switch origins {
        case .any: return "*"
        case .list(let list): return origin.flatMap { list.contains($0) ? $0 : nil }
        }
    }
}
