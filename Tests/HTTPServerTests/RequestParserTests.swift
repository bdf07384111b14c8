import Foundation
import HTTPServer
import Testing

/// The parser from byte strings: every strictness case, and every valid request split at every point.
@Suite struct RequestParserTests {
    /// Feeds `text` in pieces cut at `splits`, collecting events until the parser needs more after the last piece.
    static func events(_ text: String, splits: [Int] = [], limits: HTTPLimits = HTTPLimits()) -> [RequestParser.Event] {
        var parser = RequestParser(limits: limits)
        let bytes = Array(text.utf8)
        var cuts = [0] + splits.filter { $0 > 0 && $0 < bytes.count } + [bytes.count]
        cuts = Array(Set(cuts)).sorted()
        var out: [RequestParser.Event] = []
        for (a, b) in zip(cuts, cuts.dropFirst()) {
            parser.append(bytes[a..<b])
            loop: while true {
                let event = parser.next()
                switch event {
                case .needMore: break loop
                case .error: out.append(event); return out
                default: out.append(event)
                }
            }
        }
        return out
    }

    static func requests(_ events: [RequestParser.Event]) -> [HTTPRequest] {
        events.compactMap { if case .request(let r) = $0 { r } else { nil } }
    }

    static func status(_ text: String, limits: HTTPLimits = HTTPLimits()) -> Int? {
        for event in events(text, limits: limits) { if case .error(let e) = event { return e.status.code } }
        return nil
    }

    static let valid = [
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /classify?top_k=3 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
    ]

    @Test func everyValidRequestParsesWhereverItIsSplit() {
        let bodies = ["", "hello", "hello world", ""]
        for (text, body) in zip(Self.valid, bodies) {
            let count = text.utf8.count
            for cut in 0...count {
                for second in [cut, min(count, cut + 1), min(count, cut + 7)] {
                    let requests = Self.requests(Self.events(text, splits: [cut, second]))
                    #expect(requests.count == 1, "split at \(cut),\(second) of \(text.debugDescription)")
                    #expect(requests.first.map { String(decoding: $0.body, as: UTF8.self) } == body)
                }
            }
        }
    }

    @Test func pipelinedRequestsComeOutInOrder() {
        let text = Self.valid.joined()
        for cut in stride(from: 0, through: text.utf8.count, by: 3) {
            let requests = Self.requests(Self.events(text, splits: [cut]))
            #expect(requests.map(\.path) == ["/healthz", "/classify", "/u", "/"], "split at \(cut)")
        }
    }

    @Test func headComesBeforeBodyForExpectContinue() {
        var parser = RequestParser()
        parser.append(Array("PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n".utf8))
        guard case .head(let head) = parser.next() else { Issue.record("no head"); return }
        #expect(head.headers["expect"] == "100-continue")
        guard case .needMore = parser.next() else { Issue.record("body before it was sent"); return }
        parser.append(Array("abc".utf8))
        guard case .request(let request) = parser.next() else { Issue.record("no request"); return }
        #expect(request.body == Data("abc".utf8))
    }

    @Test func headersQueryAndKeepAlive() {
        let requests = Self.requests(Self.events("GET /a%20b?x=1&y=h%C3%A9+llo&x=2 HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a:  2 \r\nConnection: close\r\n\r\n"))
        let head = requests[0].head
        #expect(head.path == "/a b")
        #expect(head.queryValue("y") == "hé llo" && head.queryValue("x") == "1")
        #expect(head.headers.values("X-A") == ["1", "2"])
        #expect(!head.keepAlive)
        #expect(Self.requests(Self.events("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))[0].head.keepAlive)
        #expect(!Self.requests(Self.events("GET / HTTP/1.0\r\n\r\n"))[0].head.keepAlive)
        #expect(Self.requests(Self.events("GET http://h/p?q=1 HTTP/1.1\r\nHost: h\r\n\r\n"))[0].head.target == "/p?q=1")
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        var name: String, text: String, status: Int
        var testDescription: String { "\(name) -> \(status)" }
    }

    static let bad: [Bad] = [
        Bad(name: "CL with TE", text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400),
        Bad(name: "TE gzip", text: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", status: 501),
        Bad(name: "TE gzip, chunked", text: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", status: 501),
        Bad(name: "TE chunked twice", text: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", status: 501),
        Bad(name: "differing CL", text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", status: 400),
        Bad(name: "CL list differing", text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\nabcd", status: 400),
        Bad(name: "CL non-numeric", text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3a\r\n\r\nabc", status: 400),
        Bad(name: "CL negative", text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -3\r\n\r\n", status: 400),
        Bad(name: "CL plus sign", text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc", status: 400),
        Bad(name: "CL overflow", text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", status: 400),
        Bad(name: "CL empty", text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", status: 400),
        Bad(name: "chunk size non-hex", text: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", status: 400),
        Bad(name: "chunk size negative", text: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", status: 400),
        Bad(name: "chunk size overflow", text: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n", status: 400),
        Bad(name: "chunk without CRLF", text: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", status: 400),
        Bad(name: "no Host", text: "GET / HTTP/1.1\r\n\r\n", status: 400),
        Bad(name: "two Hosts", text: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400),
        Bad(name: "bare CR", text: "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", status: 400),
        Bad(name: "bare LF", text: "GET / HTTP/1.1\nHost: h\r\n\r\n", status: 400),
        Bad(name: "LF-only line ends", text: "GET / HTTP/1.1\nHost: h\n\n", status: 400),
        Bad(name: "unknown expectation", text: "POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", status: 417),
        Bad(name: "NUL", text: "GET / HTTP/1.1\r\nHost: h\u{0}\r\n\r\n", status: 400),
        Bad(name: "obs-fold", text: "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  b\r\n\r\n", status: 400),
        Bad(name: "space before colon", text: "GET / HTTP/1.1\r\nHost : h\r\n\r\n", status: 400),
        Bad(name: "control char in value", text: "GET / HTTP/1.1\r\nHost: h\r\nX: a\u{1}b\r\n\r\n", status: 400),
        Bad(name: "bad request line", text: "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        Bad(name: "relative target", text: "GET x HTTP/1.1\r\nHost: h\r\n\r\n", status: 400),
        Bad(name: "HTTP/2", text: "GET / HTTP/2.0\r\nHost: h\r\n\r\n", status: 505),
        Bad(name: "TE in HTTP/1.0", text: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400),
        Bad(name: "request line over 8 KiB", text: "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: h\r\n\r\n", status: 414),
        Bad(name: "header block over 16 KiB", text: "GET / HTTP/1.1\r\nHost: h\r\n" + String(repeating: "X-Pad: " + String(repeating: "p", count: 1000) + "\r\n", count: 17) + "\r\n", status: 431),
        Bad(name: "over 100 fields", text: "GET / HTTP/1.1\r\nHost: h\r\n" + (0..<101).map { "X-\($0): v\r\n" }.joined() + "\r\n", status: 431),
        Bad(name: "body over the limit", text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 67108865\r\n\r\n", status: 413),
    ]

    @Test(arguments: bad)
    func strictnessCase(_ bad: Bad) {
        #expect(Self.status(bad.text) == bad.status)
    }

    @Test func unfinishedFloodsAreCutOffBeforeTheirEnd() {
        // A request line that never ends: refused once it passes the limit, without waiting for CRLF.
        #expect(Self.status("GET /" + String(repeating: "a", count: 9000)) == 414)
        // Headers that never end.
        #expect(Self.status("GET / HTTP/1.1\r\n" + String(repeating: "X: y\r\n", count: 5000)) == 431)
        // A chunked body growing past the limit.
        var limits = HTTPLimits()
        limits.maxBodyBytes = 10
        #expect(Self.status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n", limits: limits) == 413)
    }

    @Test func errorsAreFinal() {
        var parser = RequestParser()
        parser.append(Array("GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        guard case .error = parser.next(), case .error = parser.next() else {
            Issue.record("a refused request must end the connection")
            return
        }
    }
}
