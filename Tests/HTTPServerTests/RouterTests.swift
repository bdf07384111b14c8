import Foundation
import Testing
@testable import HTTPServer

@Suite struct RouterTests {
    static func request(_ method: String, _ target: String) -> HTTPRequest {
        HTTPRequest(head: RequestHead(method: method, target: target, version: "HTTP/1.1", headers: [:]), body: Data())
    }

    static func answer(_ router: Router, _ method: String, _ target: String) async -> HTTPResponse {
        switch router.dispatch(request(method, target), context: RequestContext(requestID: "t")) {
        case .now(let response): return response
        case .later(let work): return await work()
        }
    }

    static func jobsRouter() -> Router {
        var router = Router()
        router.addInline("GET", "/v1/jobs/{id}") { request, _ in .text("get \(request.parameters["id"] ?? "-")") }
        router.add("DELETE", "/v1/jobs/{id}") { request, _ in .text("delete \(request.parameters["id"] ?? "-")") }
        router.add("POST", "/v1/jobs") { _, _ in .text("post") }
        router.addInline("GET", "/v1/jobs/stats") { _, _ in .text("exact") }
        router.addInline("GET", "/a/{x}/b/{y}") { request, _ in .text("\(request.parameters["x"]!) \(request.parameters["y"]!)") }
        return router
    }

    @Test func aParameterIsReadByTheHandler() async {
        let router = Self.jobsRouter()
        #expect(String(decoding: await Self.answer(router, "GET", "/v1/jobs/abc_DEF-1?x=2").body, as: UTF8.self) == "get abc_DEF-1")
        #expect(String(decoding: await Self.answer(router, "DELETE", "/v1/jobs/xyz").body, as: UTF8.self) == "delete xyz")
        #expect(String(decoding: await Self.answer(router, "GET", "/a/1/b/2").body, as: UTF8.self) == "1 2")
    }

    @Test func anExactRouteWinsOverATemplate() async {
        let router = Self.jobsRouter()
        #expect(String(decoding: await Self.answer(router, "GET", "/v1/jobs/stats").body, as: UTF8.self) == "exact")
        #expect(String(decoding: await Self.answer(router, "POST", "/v1/jobs").body, as: UTF8.self) == "post")
    }

    @Test func aTemplateMatchesOneNonEmptySegmentOnly() async {
        let router = Self.jobsRouter()
        for path in ["/v1/jobs/", "/v1/jobs/a/b", "/v1/job/a", "/v1/jobs//", "/a/1/b", "/a//b/2"] {
            #expect(await Self.answer(router, "GET", path).status == .notFound, "\(path)")
        }
    }

    @Test func methodsOfATemplateGive405WithAllow() async {
        let response = await Self.answer(Self.jobsRouter(), "PUT", "/v1/jobs/abc")
        #expect(response.status == .methodNotAllowed)
        #expect(response.headers["Allow"] == "DELETE, GET, HEAD")
        #expect(await Self.answer(Self.jobsRouter(), "HEAD", "/v1/jobs/abc").status == .ok)
    }

    @Test func routeNamesKeepIdsOutOfMetricLabels() {
        let router = Self.jobsRouter()
        #expect(router.routeName(for: "/v1/jobs/3f2a") == "/v1/jobs/{id}")
        #expect(router.routeName(for: "/v1/jobs/stats") == "/v1/jobs/stats")
        #expect(router.routeName(for: "/v1/jobs") == "/v1/jobs")
        #expect(router.routeName(for: "/v1/jobs/a/b") == "unmatched")
    }

    @Test func templatesParse() {
        #expect(PathTemplate("/v1/jobs") == nil)
        #expect(PathTemplate("/v1/jobs/{id}")?.segments == [.literal("v1"), .literal("jobs"), .parameter("id")])
        #expect(PathTemplate("/v1/{}/x") == nil)
    }
}

/// Every route's JSON and text answers are compressed for clients that accept it; bodies that are small,
/// already coded, streamed, cached by ETag or not text are sent as they are.
@Suite struct RouterCompressionTests {
    static let big = String(repeating: "{\"label\": \"playing guitar\", \"score\": 0.5}, ", count: 100)

    static func router() -> Router {
        var router = Router()
        router.addInline("GET", "/json") { _, _ in .text(big, contentType: "application/json") }
        router.add("POST", "/later") { _, _ in .text(big, contentType: "application/problem+json") }
        router.addInline("GET", "/metrics") { _, _ in .text(big) }
        router.addInline("GET", "/small") { _, _ in .json(["a": 1]) }
        router.addInline("GET", "/binary") { _, _ in
            HTTPResponse(headers: ["Content-Type": "application/octet-stream"], body: Data(big.utf8))
        }
        router.addInline("GET", "/page") { _, _ in
            HTTPResponse(headers: ["Content-Type": "text/html", "ETag": "\"abc\""], body: Data(big.utf8))
        }
        router.addInline("GET", "/coded") { _, _ in
            HTTPResponse(headers: ["Content-Type": "application/json", "Content-Encoding": "deflate"], body: Data(big.utf8))
        }
        router.addInline("GET", "/stream") { _, _ in
            HTTPResponse(headers: ["Content-Type": "application/x-ndjson"], body: Data(big.utf8), stream: BodyStream { _ in })
        }
        return router
    }

    static func answer(_ method: String, _ path: String, accepting: String?) async -> HTTPResponse {
        let headers: HTTPHeaders = accepting.map { ["Accept-Encoding": $0] } ?? [:]
        let request = HTTPRequest(head: RequestHead(method: method, target: path, version: "HTTP/1.1", headers: headers),
                                  body: Data())
        switch router().dispatch(request, context: RequestContext(requestID: "t")) {
        case .now(let response): return response
        case .later(let work): return await work()
        }
    }

    @Test func textAnswersAreCompressedForClientsThatAcceptIt() async throws {
        for (method, path) in [("GET", "/json"), ("POST", "/later"), ("GET", "/metrics"), ("HEAD", "/json")] {
            let gzipped = await Self.answer(method, path, accepting: "gzip, deflate")
            #expect(gzipped.headers["Content-Encoding"] == "gzip", "\(path)")
            #expect(gzipped.headers["Vary"] == "Accept-Encoding")
            #expect(try ContentCoding.gzip.decode(gzipped.body, limit: 1 << 20) == Data(Self.big.utf8))
            #expect(gzipped.body.count < Self.big.utf8.count / 10)
            let deflated = await Self.answer(method, path, accepting: "deflate")
            #expect(try ContentCoding.deflate.decode(deflated.body, limit: 1 << 20) == Data(Self.big.utf8))
            let plain = await Self.answer(method, path, accepting: nil)
            #expect(plain.headers["Content-Encoding"] == nil && plain.body == Data(Self.big.utf8))
            // A cache must not hand the compressed copy to a client that did not ask for it.
            #expect(plain.headers["Vary"] == "Accept-Encoding")
            #expect(await Self.answer(method, path, accepting: "gzip;q=0").headers["Content-Encoding"] == nil)
        }
    }

    @Test func otherAnswersAreSentAsTheyAre() async {
        for path in ["/small", "/binary", "/page", "/stream"] {
            let response = await Self.answer("GET", path, accepting: "gzip")
            #expect(response.headers["Content-Encoding"] == nil, "\(path)")
        }
        let coded = await Self.answer("GET", "/coded", accepting: "gzip")
        #expect(coded.headers["Content-Encoding"] == "deflate" && coded.body == Data(Self.big.utf8))
        // Refusals (404, 405) go through the same step: small problem bodies stay as they are.
        #expect(await Self.answer("GET", "/nothing", accepting: "gzip").headers["Content-Encoding"] == nil)
    }
}
