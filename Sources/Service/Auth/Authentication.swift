import Foundation
import HTTPServer

/// Who may call which route: with tokens configured, every route but liveness and readiness (and, by choice,
/// /metrics) needs `Authorization: Bearer <token>`. The decision is pure; `refusal` builds the 401.
public struct Authentication: Sendable {
    public enum Decision: Equatable {
        case allow
        /// `reason` is the metric's label: `missing` (no bearer token) or `invalid` (an unknown one).
        case refuse(reason: String)
    }

    /// Probes must work without credentials: a kubelet has none.
    public static let openPaths: Set<String> = ["/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"]

    let tokens: BearerTokens
    let protectMetrics: Bool

    public init(tokens: BearerTokens, protectMetrics: Bool) {
        self.tokens = tokens
        self.protectMetrics = protectMetrics
    }

    public func decide(path: String, authorization: String?) -> Decision {
        if Self.openPaths.contains(path) || (!protectMetrics && path == "/metrics") { return .allow }
        guard let token = Self.bearerToken(authorization) else { return .refuse(reason: "missing") }
        return tokens.contains(token) ? .allow : .refuse(reason: "invalid")
    }

    /// The token of an `Authorization: Bearer <token>` value (the scheme is case-insensitive, RFC 9110 11.1).
    static func bearerToken(_ authorization: String?) -> Substring? {
        guard let value = authorization?.drop(while: { $0 == " " }), value.count > 7,
              value.prefix(7).lowercased() == "bearer " else { return nil }
        let token = value.dropFirst(7).drop(while: { $0 == " " })
        return token.isEmpty ? nil : token
    }

    /// 401 with `WWW-Authenticate` (RFC 6750). The inference protocols' clients read `{"error"}`; the rest of
    /// the API answers problem+json.
    public static func refusal(path: String, reason: String) -> HTTPResponse {
        let detail = reason == "missing" ? "this route needs Authorization: Bearer <token>" : "the bearer token is not valid"
        let challenge = reason == "missing" ? #"Bearer realm="r2plus1d""# : #"Bearer realm="r2plus1d", error="invalid_token""#
        let status = HTTPStatus.unauthorized
        var response = path.hasPrefix("/v2/") || path == "/v2" || path.hasPrefix("/v1/models/")
            ? HTTPResponse.json(KServeRoutes.ErrorBody(error: detail), status: status)
            : HTTPResponse.problem(status: status, detail: detail)
        response.headers.set("WWW-Authenticate", challenge)
        return response
    }
}
