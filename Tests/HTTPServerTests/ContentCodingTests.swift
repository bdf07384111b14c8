import Foundation
import HTTPServer
import Testing

/// gzip and deflate request bodies and responses, from byte strings made by Python's gzip and zlib.
@Suite struct ContentCodingTests {
    static let text = Data("hello hello hello".utf8)
    /// `gzip.compress(b"hello hello hello", mtime=0)`
    static let gzipped = Data([31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 203, 72, 205, 201, 201, 87, 200, 64, 144, 0, 128, 136, 249, 229, 17, 0, 0, 0])
    /// `zlib.compress(b"hello hello hello")`
    static let deflated = Data([120, 156, 203, 72, 205, 201, 201, 87, 200, 64, 144, 0, 58, 46, 6, 125])

    @Test func decodesWhatPythonEncodes() throws {
        #expect(try ContentCoding.decodeBody(Self.gzipped, headers: ["Content-Encoding": "gzip"], limit: 100, context: nil) == Self.text)
        #expect(try ContentCoding.decodeBody(Self.deflated, headers: ["Content-Encoding": "Deflate"], limit: 100, context: nil) == Self.text)
        #expect(try ContentCoding.decodeBody(Self.text, headers: ["Content-Encoding": "identity"], limit: 100, context: nil) == Self.text)
        // Codings listed in the order applied, so undone last to first.
        let both = try ContentCoding.gzip.encode(Self.deflated)
        #expect(try ContentCoding.decodeBody(both, headers: ["Content-Encoding": "deflate, gzip"], limit: 100, context: nil) == Self.text)
    }

    @Test func roundTripsLargeBodies() throws {
        let data = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7 + $0 / 1000) })
        for coding in ContentCoding.allCases {
            let encoded = try coding.encode(data)
            #expect(encoded.count < data.count)
            #expect(try coding.decode(encoded, limit: data.count) == data)
        }
    }

    /// 64 MiB of zeros compress to about 64 KiB: the limit stops inflating long before the output is all there.
    @Test func aDecompressionBombStopsAtTheLimit() throws {
        let bomb = try ContentCoding.gzip.encode(Data(count: 64 << 20))
        #expect(bomb.count < 100_000)
        #expect(throws: ContentCodingError.tooLarge(limit: 1 << 20)) { try ContentCoding.gzip.decode(bomb, limit: 1 << 20) }
        #expect(ContentCodingError.tooLarge(limit: 1).status == .contentTooLarge)
    }

    /// Many small coded bodies must not make the server hold more than the body budget: the decoded bytes are
    /// charged to it through the request's context as they are made, and decoding stops, 503, when they no
    /// longer fit.
    @Test func decodedBytesAreChargedToTheBodyBudget() throws {
        let bomb = try ContentCoding.gzip.encode(Data(count: 8 << 20))
        let budget = BodyBudget(limit: 12 << 20)
        let first = RequestContext(requestID: "a", budget: budget), second = RequestContext(requestID: "b", budget: budget)
        let decoded = try ContentCoding.decodeBody(bomb, headers: ["Content-Encoding": "gzip"], limit: 64 << 20, context: first)
        #expect(decoded.count == 8 << 20 && budget.inUse == 8 << 20)
        #expect(throws: ContentCodingError.overBudget) {
            try ContentCoding.decodeBody(bomb, headers: ["Content-Encoding": "gzip"], limit: 64 << 20, context: second)
        }
        #expect(budget.inUse > 8 << 20 && budget.inUse <= 12 << 20)
        #expect(ContentCodingError.overBudget.status == .serviceUnavailable)
        #expect(ContentCodingError.overBudget.responseHeaders["Retry-After"] == "1")
    }

    @Test func damagedStreamsAreBadRequests() {
        for damaged in [Self.gzipped.prefix(20), Self.gzipped + Data([1, 2]), Data([31, 139, 9, 9, 9]), Data()] {
            #expect(throws: ContentCodingError.self) { try ContentCoding.gzip.decode(damaged, limit: 100) }
        }
        #expect(throws: ContentCodingError.unsupported("br")) {
            try ContentCoding.decodeBody(Self.text, headers: ["Content-Encoding": "br"], limit: 100, context: nil)
        }
        #expect(ContentCodingError.unsupported("br").status == .unsupportedMediaType)
    }

    @Test func answersInTheCodingTheClientAccepts() throws {
        #expect(ContentCoding.preferred(acceptEncoding: ["deflate, gzip;q=0.5"]) == .gzip)
        #expect(ContentCoding.preferred(acceptEncoding: ["gzip;q=0, deflate"]) == .deflate)
        #expect(ContentCoding.preferred(acceptEncoding: ["identity"]) == nil)
        #expect(ContentCoding.preferred(acceptEncoding: ["*"]) == .gzip)
        let body = Data(repeating: 65, count: 5000)
        let response = ContentCoding.compress(HTTPResponse(body: body), acceptEncoding: ["gzip"])
        #expect(response.headers["Content-Encoding"] == "gzip" && response.headers["Vary"] == "Accept-Encoding")
        #expect(try ContentCoding.gzip.decode(response.body, limit: 10_000) == body)
        // Small bodies, and clients that accept nothing, get the body as it was.
        #expect(ContentCoding.compress(HTTPResponse(body: Self.text), acceptEncoding: ["gzip"]).headers["Content-Encoding"] == nil)
        #expect(ContentCoding.compress(HTTPResponse(body: body), acceptEncoding: []).body == body)
    }
}
