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
