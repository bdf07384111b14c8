import Foundation

/// A response: status, header fields and a body sent with Content-Length.
public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: Data

    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = [:], body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON body from any Encodable value.
    public static func json(_ value: some Encodable, status: HTTPStatus = .ok, headers: HTTPHeaders = [:]) -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var response = HTTPResponse(status: status, headers: headers, body: (try? encoder.encode(value)) ?? Data("{}".utf8))
        response.headers.set("Content-Type", "application/json")
        return response
    }

    public static func text(_ text: String, status: HTTPStatus = .ok, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: Data(text.utf8))
    }

    /// An RFC 9457 problem: `application/problem+json` with type, title, status and detail.
    public static func problem(status: HTTPStatus, detail: String, title: String? = nil, headers: HTTPHeaders = [:]) -> HTTPResponse {
        var response = json(Problem(title: title ?? status.reasonPhrase, status: status.code, detail: detail),
                            status: status, headers: headers)
        response.headers.set("Content-Type", "application/problem+json")
        return response
    }

    struct Problem: Encodable {
        var type = "about:blank"
        var title: String
        var status: Int
        var detail: String
    }
}

/// Errors that know their HTTP status: every error a handler throws is answered through this.
public protocol HTTPResponseError: Error {
    var status: HTTPStatus { get }
    /// Safe to show the client: says what was wrong and what to do, never internals.
    var detail: String { get }
    var responseHeaders: HTTPHeaders { get }
}

extension HTTPResponseError {
    public var responseHeaders: HTTPHeaders { [:] }

    public var response: HTTPResponse {
        .problem(status: status, detail: detail, headers: responseHeaders)
    }
}
