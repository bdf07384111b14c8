import Foundation
@testable import HTTPServer
import Testing

@Suite struct MultipartTests {
    static let curlBody = "--------------------------abc123\r\nContent-Disposition: form-data; name=\"video\"; filename=\"clip.mp4\"\r\nContent-Type: video/mp4\r\n\r\n\u{0}\u{1}binary\r\n--not-the-boundary\r\n--------------------------abc123\r\nContent-Disposition: form-data; name=\"top_k\"\r\n\r\n3\r\n--------------------------abc123--\r\n"

    @Test func parsesWhatCurlSends() throws {
        let boundary = try #require(Multipart.boundary(contentType: "multipart/form-data; boundary=------------------------abc123"))
        let parts = try Multipart.parse(Data(Self.curlBody.utf8), boundary: boundary)
        #expect(parts.count == 2)
        #expect(parts[0].name == "video" && parts[0].filename == "clip.mp4" && parts[0].contentType == "video/mp4")
        #expect(parts[0].body == Data("\u{0}\u{1}binary\r\n--not-the-boundary".utf8))
        #expect(parts[1].name == "top_k" && parts[1].filename == nil && parts[1].body == Data("3".utf8))
    }

    @Test func partsAreSlicesOfTheBody() throws {
        let body = Data(Self.curlBody.utf8)
        let parts = try Multipart.parse(body, boundary: "------------------------abc123")
        // A slice keeps the original indices: no copy was made.
        #expect(parts[0].body.startIndex > body.startIndex)
    }

    @Test func boundaryParameterForms() {
        #expect(Multipart.boundary(contentType: "multipart/form-data; boundary=\"a b\"") == "a b")
        #expect(Multipart.boundary(contentType: "Multipart/Form-Data;BOUNDARY=xyz") == "xyz")
        #expect(Multipart.boundary(contentType: "multipart/mixed; boundary=xyz") == nil)
        #expect(Multipart.boundary(contentType: "multipart/form-data") == nil)
        #expect(Multipart.boundary(contentType: "multipart/form-data; boundary=" + String(repeating: "b", count: 71)) == nil)
    }

    @Test func preambleAndPaddingAreAllowed() throws {
        let body = "preamble\r\n--b  \r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n--b--"
        let parts = try Multipart.parse(Data(body.utf8), boundary: "b")
        #expect(parts.count == 1 && parts[0].body == Data("v".utf8))
    }

    @Test(arguments: [
        "no boundary at all",
        "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nunterminated",
        "--b\r\nContent-Disposition: form-data; name=\"x\"",
        "--b\r\nX-No-Disposition: 1\r\n\r\nv\r\n--b--",
        "--b\r\nContent-Disposition: attachment\r\n\r\nv\r\n--b--",
        "--bXX\r\n",
        "--b\r\nBad Header\r\n\r\nv\r\n--b--",
    ])
    func malformedBodiesAre400(_ text: String) {
        #expect(throws: MultipartError.self) { try Multipart.parse(Data(text.utf8), boundary: "b") }
    }
}
