import Foundation
import HTTPServer
@testable import Service
import TestSupport
import Testing

/// Bearer tokens: the decision as pure code, the file and its reload, and the 401s of a live service.
@Suite(.serialized) struct AuthenticationTests {
    static func tokenFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("r2plus1d-tokens-\(UUID().uuidString)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func everyRouteButProbesNeedsAKnownToken() {
        let auth = Authentication(tokens: BearerTokens(tokens: ["s3cret", "other-token"]), protectMetrics: true)
        for path in ["/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"] {
            #expect(auth.decide(path: path, authorization: nil) == .allow, "\(path)")
        }
        for path in ["/classify", "/v2/models/r2plus1d_18/infer", "/v2", "/metrics", "/nowhere"] {
            #expect(auth.decide(path: path, authorization: nil) == .refuse(reason: "missing"), "\(path)")
            #expect(auth.decide(path: path, authorization: "Bearer s3cret") == .allow)
            #expect(auth.decide(path: path, authorization: "bearer other-token") == .allow)
            #expect(auth.decide(path: path, authorization: "Bearer s3cre") == .refuse(reason: "invalid"))
            #expect(auth.decide(path: path, authorization: "Bearer s3cret2") == .refuse(reason: "invalid"))
            #expect(auth.decide(path: path, authorization: "Basic czNjcmV0") == .refuse(reason: "missing"))
            #expect(auth.decide(path: path, authorization: "Bearer ") == .refuse(reason: "missing"))
        }
        let openMetrics = Authentication(tokens: BearerTokens(tokens: ["s3cret"]), protectMetrics: false)
        #expect(openMetrics.decide(path: "/metrics", authorization: nil) == .allow)
        #expect(openMetrics.decide(path: "/v1/model", authorization: nil) == .refuse(reason: "missing"))
    }

    @Test func refusalsSayHowToAuthenticate() throws {
        let v2 = Authentication.refusal(path: "/v2/models/r2plus1d_18/infer", reason: "invalid")
        #expect(v2.status == .unauthorized && v2.headers["Content-Type"] == "application/json")
        #expect(v2.headers["WWW-Authenticate"] == #"Bearer realm="r2plus1d", error="invalid_token""#)
        #expect(String(decoding: v2.body, as: UTF8.self) == #"{"error":"the bearer token is not valid"}"#)
        let classify = Authentication.refusal(path: "/classify", reason: "missing")
        #expect(classify.headers["Content-Type"] == "application/problem+json" && classify.headers["WWW-Authenticate"] == #"Bearer realm="r2plus1d""#)
    }

    @Test func theFileIsReadAndReloaded() throws {
        let path = try Self.tokenFile("# rotated monthly\nfirst\n\n  second  \n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let tokens = try BearerTokens(path: path)
        #expect(tokens.count == 2 && tokens.contains("first") && tokens.contains("second") && !tokens.contains("# rotated monthly"))
        try "third\n".write(toFile: path, atomically: true, encoding: .utf8)
        try tokens.reload()
        #expect(tokens.contains("third") && !tokens.contains("first"))
        // A file emptied by mistake keeps the tokens in use.
        try "\n# none\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: AuthError.noTokens(path)) { try tokens.reload() }
        #expect(tokens.contains("third"))
        #expect(throws: AuthError.unreadableTokenFile("/nonexistent/tokens")) { try BearerTokens(path: "/nonexistent/tokens") }
    }

    @Test func aLiveServiceRefusesWithoutAToken() throws {
        let path = try Self.tokenFile("live-token\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let test = try TestService { $0.authTokenFile = path }
        defer { #expect(test.stop()) }
        #expect(try test.get("/readyz").status == 200)
        let refused = try test.get("/v2/models/r2plus1d_18")
        #expect(refused.status == 401 && refused.headers["www-authenticate"] == #"Bearer realm="r2plus1d""#)
        #expect(refused.body.hasPrefix(#"{"error":"#))
        func get(_ path: String, token: String) throws -> Int {
            let client = try RawClient(port: test.port)
            client.send("GET \(path) HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(token)\r\n\r\n")
            return client.response()?.status ?? 0
        }
        #expect(try get("/v2/models/r2plus1d_18", token: "live-token") == 200)
        #expect(try get("/v1/model", token: "wrong") == 401)
        #expect(try test.get("/metrics").status == 401)
        let client = try RawClient(port: test.port)
        client.send("GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer live-token\r\n\r\n")
        let metrics = try #require(client.response()).body
        #expect(metrics.contains(#"r2plus1d_auth_refusals_total{reason="missing"} 2"#), "\(metrics)")
        #expect(metrics.contains(#"r2plus1d_auth_refusals_total{reason="invalid"} 1"#))
    }
}
