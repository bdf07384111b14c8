/// Everything the server can be told; every bound has a default that suits a public endpoint.
public struct HTTPServerConfiguration: Sendable {
    public var host = "0.0.0.0"
    /// 0 picks a free port; `HTTPServer.port` reports it.
    public var port = 8080
    public var backlog: Int32 = 512
    /// Open connections at most; one more is answered 503 and closed.
    public var maxConnections = 512
    public var limits = HTTPLimits()
    /// Bytes of request bodies all connections may hold at once (`BodyBudget`)...
    public var maxBufferedBodyBytes = 512 << 20
    /// ...and never less than two bodies of the largest size, so one request alone always fits with what it makes
    /// from its body: a gzip body's decoded bytes, or a job's copy of its upload until the 202 is sent.
    public var bodyBudgetBytes: Int { max(maxBufferedBodyBytes, 2 * limits.maxBodyBytes) }
    /// The whole request head (and TLS handshake) must arrive within this, however it is dribbled.
    public var headerTimeoutSeconds = 10.0
    /// The whole body must arrive within this...
    public var bodyTimeoutSeconds = 120.0
    /// ...and, after the first `bodyGraceSeconds`, at no less than this average rate.
    public var minBodyBytesPerSecond = 1024.0
    public var bodyGraceSeconds = 10.0
    /// A keep-alive connection with no request in progress closes after this.
    public var idleTimeoutSeconds = 60.0
    /// A client that stops reading the response is dropped after this long without progress.
    public var writeTimeoutSeconds = 30.0
    /// On SIGTERM or SIGINT the drain hook runs (readiness turns 503) and the server keeps serving this long, so
    /// load balancers stop sending before the listener closes.
    public var drainDelaySeconds = 3.0
    /// Then in-flight requests get this long to finish (Kubernetes' grace period is 30 s in all).
    public var drainTimeoutSeconds = 25.0
    /// Serve HTTPS instead of HTTP.
    public var tls: TLSConfiguration?

    public init() {}
}

/// One answered request, for access logs and metrics.
public struct CompletedRequest: Sendable {
    public var method: String
    public var path: String
    public var status: HTTPStatus
    public var bodyBytes: Int
    public var durationSeconds: Double
    public var requestID: String
}
