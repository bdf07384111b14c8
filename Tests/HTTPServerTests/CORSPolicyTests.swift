import Foundation
import Testing
@testable import HTTPServer

/// The CORS protocol of the Fetch standard (https://fetch.spec.whatwg.org/#http-cors-protocol), as a browser
/// checks it: a preflight passes with a 2xx status, an `Access-Control-Allow-Origin` that is `*` or the request's
/// origin, the method in `Access-Control-Allow-Methods` and every requested header in `...-Allow-Headers`; a page
/// reads an answer only when it carries that origin, and only the response headers listed as exposed.
@Suite struct CORSPolicyTests {
    static func headers(_ fields: [(String, String)]) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for (name, value) in fields { headers.add(name, value) }
        return headers
    }

    @Test func originsParseAsSchemeHostAndPort() throws {
        let policy = try #require(CORSPolicy(parsing: "https://app.example.com, http://localhost:3000 ,HTTP://Intranet.Example"))
        #expect(policy.origins == .list(["https://app.example.com", "http://localhost:3000", "http://intranet.example"]))
        #expect(CORSPolicy(parsing: "*")?.origins == .any)
        #expect(CORSPolicy(parsing: "https://a.example:8443")?.origins == .list(["https://a.example:8443"]))
    }

    @Test func originsAreKeptAsBrowsersSerializeThem() throws {
        // Browsers leave out the scheme's default port and send IPv6 in its shortest form.
        let policy = try #require(CORSPolicy(parsing: "https://a.example:443,http://b.example:80,http://c.example:0080,http://[0:0::1]:3000,https://d.example:80"))
        #expect(policy.origins == .list(["https://a.example", "http://b.example", "http://c.example",
                                         "http://[::1]:3000", "https://d.example:80"]))
    }

    @Test func anOriginWithAPathOrWithoutASchemeIsRefused() {
        for value in ["", " ", "app.example.com", "https://app.example.com/", "https://app.example.com/ui", "ftp://a.example",
                      "https://", "https://a.example:", "https://a.example:99999", "https://a.example?x=1", "null",
                      "https://a.example, *", "https://user@a.example", "https://a b.example", "http://[::1", "http://a:b:80",
                      "http://[nothex]:80", "http://a.example:0", "http://a.example:+80"] {
            #expect(CORSPolicy(parsing: value) == nil, "\(value)")
        }
    }

    @Test func aPreflightFromAListedOriginNamesTheRoutesMethodsAndTheAskedHeaders() throws {
        let policy = try #require(CORSPolicy(parsing: "https://app.example.com"))
        let request = Self.headers([("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "POST"),
                                    ("Access-Control-Request-Headers", "authorization, content-type,x-request-id")])
        let response = policy.preflight(request, allowedMethods: ["GET", "POST"])
        #expect(response.status == .noContent)
        #expect(response.body.isEmpty)
        #expect(response.headers["Access-Control-Allow-Origin"] == "https://app.example.com")
        #expect(response.headers["Access-Control-Allow-Methods"] == "GET, HEAD, POST")
        #expect(response.headers["Access-Control-Allow-Headers"] == "authorization, content-type, x-request-id")
        #expect(response.headers["Access-Control-Max-Age"] == "\(CORSPolicy.maxAgeSeconds)")
        #expect(response.headers.tokens("Vary") == ["origin", "access-control-request-method", "access-control-request-headers"])
        // Credentials (cookies, client certificates) are never asked for: bearer tokens travel in a header.
        #expect(response.headers["Access-Control-Allow-Credentials"] == nil)
    }

    @Test func aPreflightFromAnOriginNotListedIsRefusedWithoutCORSHeaders() throws {
        let policy = try #require(CORSPolicy(parsing: "https://app.example.com"))
        for origin in ["https://evil.example", "http://app.example.com", "https://app.example.com:444", "null"] {
            let request = Self.headers([("Origin", origin), ("Access-Control-Request-Method", "POST")])
            let response = policy.preflight(request, allowedMethods: ["POST"])
            #expect(response.status == .forbidden, "\(origin)")
            #expect(response.headers["Access-Control-Allow-Origin"] == nil)
            #expect(String(decoding: response.body, as: UTF8.self).contains("--cors-origins"))
        }
    }

    @Test func anyOriginIsAnsweredWithAStar() throws {
        let policy = try #require(CORSPolicy(parsing: "*"))
        let request = Self.headers([("Origin", "null"), ("Access-Control-Request-Method", "DELETE")])
        let response = policy.preflight(request, allowedMethods: ["DELETE", "GET"])
        #expect(response.status == .noContent)
        #expect(response.headers["Access-Control-Allow-Origin"] == "*")
        #expect(response.headers["Access-Control-Allow-Headers"] == nil)
        #expect(response.headers.tokens("Vary") == ["access-control-request-method", "access-control-request-headers"])
    }

    @Test func onlyAnOptionsRequestWithOriginAndRequestMethodIsAPreflight() {
        #expect(CORSPolicy.isPreflight(method: "OPTIONS", headers: Self.headers([("Origin", "https://a.example"),
                                                                                 ("Access-Control-Request-Method", "GET")])))
        #expect(!CORSPolicy.isPreflight(method: "POST", headers: Self.headers([("Origin", "https://a.example"),
                                                                               ("Access-Control-Request-Method", "GET")])))
        #expect(!CORSPolicy.isPreflight(method: "OPTIONS", headers: Self.headers([("Origin", "https://a.example")])))
    }

    @Test func requestedHeadersThatAreNotFieldNamesFailThePreflight() throws {
        let policy = try #require(CORSPolicy(parsing: "*"))
        let request = Self.headers([("Origin", "https://a.example"), ("Access-Control-Request-Method", "POST"),
                                    ("Access-Control-Request-Headers", "content-type, bad header\r\nx: 1")])
        let response = policy.preflight(request, allowedMethods: ["POST"])
        #expect(response.status == .badRequest)
        #expect(response.headers["Access-Control-Allow-Headers"] == nil)
    }

    @Test func anAnswerToAListedOriginNamesItAndExposesTheServicesHeaders() throws {
        let policy = try #require(CORSPolicy(parsing: "https://app.example.com,https://b.example"))
        var response = HTTPResponse.text("ok")
        response.headers.set("Vary", "Accept-Encoding")
        policy.decorate(&response, requestHeaders: Self.headers([("Origin", "https://b.example")]))
        #expect(response.headers["Access-Control-Allow-Origin"] == "https://b.example")
        #expect(response.headers.tokens("Vary") == ["accept-encoding", "origin"])
        let exposed = response.headers.tokens("Access-Control-Expose-Headers")
        for name in ["x-request-id", "retry-after", "location", "www-authenticate", "inference-header-content-length"] {
            #expect(exposed.contains(name), "\(name)")
        }
    }

    @Test func anAnswerToAnotherOriginOrToNoneCarriesOnlyVary() throws {
        let policy = try #require(CORSPolicy(parsing: "https://app.example.com"))
        for request in [Self.headers([("Origin", "https://evil.example")]), HTTPHeaders()] {
            var response = HTTPResponse.text("ok")
            policy.decorate(&response, requestHeaders: request)
            #expect(response.headers["Access-Control-Allow-Origin"] == nil)
            #expect(response.headers["Access-Control-Expose-Headers"] == nil)
            // So a cache never hands this answer to a listed origin.
            #expect(response.headers.tokens("Vary") == ["origin"])
        }
    }

    @Test func withAnyOriginAnAnswerIsTheSameForEveryOrigin() throws {
        let policy = try #require(CORSPolicy(parsing: "*"))
        var response = HTTPResponse.text("ok")
        policy.decorate(&response, requestHeaders: Self.headers([("Origin", "https://a.example")]))
        #expect(response.headers["Access-Control-Allow-Origin"] == "*")
        #expect(response.headers["Vary"] == nil)
        var direct = HTTPResponse.text("ok")
        policy.decorate(&direct, requestHeaders: HTTPHeaders())
        #expect(direct.headers["Access-Control-Allow-Origin"] == "*")
    }
}

/// The router applies the policy to every answer: preflights before admission (browsers send them without the
/// token), refusals and handler answers alike.
@Suite struct RouterCORSTests {
    static func router() -> Router {
        var router = Router()
        router.add("POST", "/classify") { _, _ in .json(["ok": true]) }
        router.addInline("GET", "/v1/jobs/{id}") { request, _ in .text(request.parameters["id"] ?? "-") }
        router.admission = { request in
            request.headers["Authorization"] == "Bearer t" ? nil : .problem(status: .unauthorized, detail: "a token is needed")
        }
        router.cors = CORSPolicy(parsing: "https://app.example.com")
        return router
    }

    static func answer(_ router: Router, _ method: String, _ target: String, _ fields: [(String, String)]) async -> HTTPResponse {
        let request = HTTPRequest(head: RequestHead(method: method, target: target, version: "HTTP/1.1",
                                                    headers: CORSPolicyTests.headers(fields)), body: Data())
        switch router.dispatch(request, context: RequestContext(requestID: "t")) {
        case .now(let response): return response
        case .later(let work): return await work()
        }
    }

    @Test func aPreflightIsAnsweredWithoutAToken() async {
        let response = await Self.answer(Self.router(), "OPTIONS", "/v1/jobs/42", [
            ("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "authorization")])
        #expect(response.status == .noContent)
        #expect(response.headers["Access-Control-Allow-Methods"] == "GET, HEAD")
        #expect(response.headers["Access-Control-Allow-Headers"] == "authorization")
    }

    @Test func aPreflightToNoRouteIs404() async {
        let response = await Self.answer(Self.router(), "OPTIONS", "/nowhere", [
            ("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "GET")])
        #expect(response.status == .notFound)
    }

    @Test func refusalsAndAnswersCarryTheOrigin() async {
        let origin = ("Origin", "https://app.example.com")
        let refused = await Self.answer(Self.router(), "POST", "/classify", [origin])
        #expect(refused.status == .unauthorized)
        #expect(refused.headers["Access-Control-Allow-Origin"] == "https://app.example.com")
        let answered = await Self.answer(Self.router(), "POST", "/classify", [origin, ("Authorization", "Bearer t")])
        #expect(answered.status == .ok)
        #expect(answered.headers["Access-Control-Allow-Origin"] == "https://app.example.com")
        let inline = await Self.answer(Self.router(), "GET", "/v1/jobs/7", [origin, ("Authorization", "Bearer t")])
        #expect(inline.headers["Access-Control-Allow-Origin"] == "https://app.example.com")
    }

    @Test func anOptionsRequestThatIsNoPreflightIsRoutedAsBefore() async {
        let response = await Self.answer(Self.router(), "OPTIONS", "/classify", [("Authorization", "Bearer t")])
        #expect(response.status == .methodNotAllowed)
        #expect(response.headers["Access-Control-Allow-Origin"] == nil)
    }

    @Test func withoutAPolicyNoAnswerCarriesCORSHeaders() async {
        var router = Self.router()
        router.cors = nil
        let preflight = await Self.answer(router, "OPTIONS", "/classify", [
            ("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "POST")])
        #expect(preflight.status == .unauthorized)
        #expect(!preflight.headers.contains { $0.name.lowercased().hasPrefix("access-control-") || $0.name == "Vary" })
    }
}
