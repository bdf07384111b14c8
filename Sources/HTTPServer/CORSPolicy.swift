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
    /// Returns nil when any entry is not one. Blank text is no policy's text either.
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

    /// The origin as a browser sends it in `Origin`, or nil: scheme and host lowercased, the scheme's default port
    /// left out, an IPv6 host in its shortest form (`[::1]`). An origin written otherwise would never match.
    static func serializedOrigin(_ text: String) -> String? {
        let lowered = text.lowercased()
        let scheme: String, defaultPort: Int
        if lowered.hasPrefix("http://") {
            (scheme, defaultPort) = ("http", 80)
        } else if lowered.hasPrefix("https://") {
            (scheme, defaultPort) = ("https", 443)
        } else {
            return nil
        }
        let authority = lowered.dropFirst(scheme.count + 3)
        let host: String, port: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]"),
                  let address = canonicalIPv6(String(authority[authority.index(after: authority.startIndex)..<close])) else { return nil }
            host = "[\(address)]"
            let rest = authority[authority.index(after: close)...]
            guard rest.isEmpty || rest.hasPrefix(":") else { return nil }
            port = rest.isEmpty ? nil : rest.dropFirst()
        } else {
            let parts = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            host = String(parts[0])
            guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }) else {
                return nil
            }
            port = parts.count > 1 ? parts[1] : nil
        }
        guard let port else { return "\(scheme)://\(host)" }
        guard !port.isEmpty, port.count <= 5, port.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(port),
              (1...65535).contains(number) else { return nil }
        return number == defaultPort ? "\(scheme)://\(host)" : "\(scheme)://\(host):\(number)"
    }

    private static func canonicalIPv6(_ text: String) -> String? {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(cString: buffer)
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
