import Foundation
import Glibc
import HTTPServer
@testable import Service
import TestSupport
import Testing

/// The browser page at `/` and its assets: headers, caching, HEAD, `--no-ui`, and the compiled-in copies of `webui/`.
@Suite(.serialized) struct WebUITests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("webui")

    /// One request with extra header lines; the connection closes after it, so the whole answer is read as sent.
    static func exchange(_ test: TestService, _ method: String, _ path: String, _ headers: String = "") throws
        -> (status: Int, headers: [String: String], rawBody: [UInt8]) {
        let client = try RawClient(port: test.port)
        client.send("\(method) \(path) HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\(headers)\r\n")
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(client.fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        let end = try #require(data.firstRange(of: [13, 10, 13, 10]))
        let lines = String(decoding: data[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            let pair = line.split(separator: ":", maxSplits: 1)
            if pair.count == 2 { fields[pair[0].lowercased()] = pair[1].trimmingCharacters(in: .whitespaces) }
        }
        return (Int(lines[0].split(separator: " ")[1]) ?? 0, fields, Array(data[end.upperBound...]))
    }

    static func expectSecurityHeaders(_ headers: [String: String], _ path: String) {
        let csp = headers["content-security-policy"] ?? ""
        #expect(csp.contains("default-src 'none'") && csp.contains("script-src 'self'") && csp.contains("style-src 'self'"), "\(path)")
        #expect(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "\(path)")
        #expect(headers["x-content-type-options"] == "nosniff", "\(path)")
        #expect(headers["referrer-policy"] == "no-referrer", "\(path)")
    }

    @Test func pageAndAssetsAreServedWithSecurityAndCacheHeaders() throws {
        let test = try TestService()
        let page = try test.get("/")
        #expect(page.status == 200)
        #expect(page.headers["content-type"] == "text/html; charset=utf-8")
        #expect(page.headers["cache-control"] == "no-cache")
        #expect(page.headers["etag"]?.hasPrefix("\"") == true)
        Self.expectSecurityHeaders(page.headers, "/")
        // No inline script or style for the CSP to allow, and only relative links (TLS, proxy prefixes).
        #expect(!page.body.contains("<style") && !page.body.contains("style=") && !page.body.contains("javascript:"))
        #expect(!page.body.contains("src=\"/") && !page.body.contains("href=\"/") && !page.body.contains("http:"))
        let scripts = page.body.components(separatedBy: "<script").dropFirst()
        #expect(scripts.count == 1 && scripts.allSatisfy { $0.hasPrefix(" src=\"assets/") })
        let links = try Regex(#"assets/[a-z]+\.[0-9a-f]{16}\.(css|js|svg)"#)
        let found = page.body.matches(of: links).map { String(page.body[$0.range]) }
        #expect(Set(found.map { $0.split(separator: ".").last! }) == ["css", "js", "svg"])
        let types = ["css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8", "svg": "image/svg+xml"]
        for link in found {
            let asset = try test.get("/" + link)
            let ext = String(link.split(separator: ".").last!)
            let name = String(link.dropFirst("assets/".count).split(separator: ".").first!) + "." + ext
            #expect(asset.status == 200, "\(link)")
            #expect(asset.headers["content-type"] == types[ext], "\(link)")
            #expect(asset.headers["cache-control"] == "public, max-age=31536000, immutable", "\(link)")
            #expect(asset.body == (try String(contentsOf: Self.sources.appendingPathComponent(name), encoding: .utf8)), "\(link)")
            Self.expectSecurityHeaders(asset.headers, link)
        }
        // An asset name with another hash is not served: an old page cannot get a new file under its old name.
        #expect(try test.get("/assets/app.0000000000000000.js").status == 404)
        #expect(test.stop())
    }

    @Test func ifNoneMatchGets304AndHeadGetsNoBody() throws {
        let test = try TestService()
        let page = try Self.exchange(test, "GET", "/")
        let etag = try #require(page.headers["etag"])
        let script = try #require(String(decoding: page.rawBody, as: UTF8.self).firstMatch(of: try Regex(#"assets/app\.[0-9a-f]{16}\.js"#)))
        let scriptPath = "/" + String(String(decoding: page.rawBody, as: UTF8.self)[script.range])
        for (path, tag) in [("/", etag), (scriptPath, try #require(try Self.exchange(test, "GET", scriptPath).headers["etag"]))] {
            let same = try Self.exchange(test, "GET", path, "If-None-Match: \(tag)\r\n")
            #expect(same.status == 304 && same.rawBody.isEmpty && same.headers["etag"] == tag, "\(path)")
            #expect(same.headers["cache-control"] != nil && same.headers["content-length"] == nil, "\(path)")
            #expect(try Self.exchange(test, "GET", path, "If-None-Match: \"other\", W/\(tag)\r\n").status == 304, "\(path)")
            let changed = try Self.exchange(test, "GET", path, "If-None-Match: \"other\"\r\n")
            #expect(changed.status == 200 && !changed.rawBody.isEmpty, "\(path)")
        }
        let head = try Self.exchange(test, "HEAD", "/")
        #expect(head.status == 200 && head.rawBody.isEmpty)
        #expect(head.headers["content-length"] == "\(page.rawBody.count)" && head.headers["etag"] == etag)
        Self.expectSecurityHeaders(head.headers, "HEAD /")
        #expect(try Self.exchange(test, "POST", "/").status == 405)
        #expect(test.stop())
    }

    @Test func noUITurnsThePageOffAndLeavesTheAPI() throws {
        let test = try TestService { $0.webUI = false }
        #expect(try test.get("/").status == 404)
        let asset = try #require(WebUI().assets.last).path
        #expect(try test.get(asset).status == 404)
        #expect(try test.get("/v1/model").status == 200)
        #expect(test.stop())
    }

    @Test func modelReportsTheUploadLimits() throws {
        let test = try TestService {
            $0.http.limits.maxBodyBytes = 3 << 20
            $0.http.maxBufferedBodyBytes = 10 << 20
        }
        let model = try test.get("/v1/model").body
        #expect(model.contains("\"max_upload_bytes\":3145728") && model.contains("\"max_buffered_upload_bytes\":10485760"))
        // An upload's bytes are given back once it is answered.
        #expect(try test.post("/v1/classify", body: Data(repeating: 7, count: 100_000), contentType: "video/mp4").status >= 400)
        #expect(try test.metric("r2plus1d_http_buffered_body_bytes") == 0)
        // The scrape's own connection is open while it is answered.
        #expect(try test.metric("r2plus1d_http_connections") == 1)
        #expect(try test.metric(#"r2plus1d_http_connections_refused_total{reason="descriptors"}"#) == 0)
        #expect(test.stop())
    }

    @Test func compiledInFilesMatchTheWebUIFolder() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.sources.path).sorted()
        #expect(WebUIFiles.all.map(\.name).sorted() == names, "run scripts/generate-webui.sh")
        for file in WebUIFiles.all {
            let source = try String(contentsOf: Self.sources.appendingPathComponent(file.name), encoding: .utf8)
            #expect(file.text + "\n" == source, "\(file.name) differs from webui/: run scripts/generate-webui.sh")
        }
    }

    @Test func entityTagsCompareWeaklyInLists() {
        #expect(WebUI.matches(["\"a\""], etag: "\"a\""))
        #expect(WebUI.matches(["\"b\", W/\"a\""], etag: "\"a\""))
        #expect(WebUI.matches(["\"b\"", "\"a\""], etag: "\"a\""))
        #expect(WebUI.matches(["*"], etag: "\"a\""))
        #expect(!WebUI.matches(["\"ab\""], etag: "\"a\""))
        #expect(!WebUI.matches([], etag: "\"a\""))
    }
}
