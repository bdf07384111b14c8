import Foundation

/// A response: status, header fields and a body sent with Content-Length.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Data

    public init(status: Int = 200, headers: HTTPHeaders = [:], body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON body from any Encodable value.
    public static func json(_ value: some Encodable, status: Int = 200, headers: HTTPHeaders = [:]) -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var response = HTTPResponse(status: status, headers: headers, body: (try? encoder.encode(value)) ?? Data("{}".utf8))
        response.headers.set("Content-Type", "application/json")
        return response
    }

    public static func text(_ text: String, status: Int = 200, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: Data(text.utf8))
    }

    /// An RFC 9457 problem: `application/problem+json` with type, title, status and detail.
    public static func problem(status: Int, detail: String, title: String? = nil, headers: HTTPHeaders = [:]) -> HTTPResponse {
        var response = json(Problem(title: title ?? HTTPStatus.reason(status), status: status, detail: detail),
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
    var status: Int { get }
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

public enum HTTPStatus {
    public static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 204: "No Content"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }
}
