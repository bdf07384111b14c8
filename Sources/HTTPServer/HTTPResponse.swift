import Foundation

/// A response: status, header fields and a body sent with Content-Length, or a body streamed as it is produced.
public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: Data
    /// When set, the body is this stream's output, sent chunked as it comes (`body` is ignored).
    public var stream: BodyStream?

    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = [:], body: Data = Data(), stream: BodyStream? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.stream = stream
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

    /// The RFC 9457 fields, for bodies that carry a problem inside something else (a stream's last line).
    public struct Problem: Encodable, Sendable {
        public var type = "about:blank"
        public var title: String
        public var status: Int
        public var detail: String

        public init(title: String, status: Int, detail: String) {
            self.title = title
            self.status = status
            self.detail = detail
        }
    }
}

/// A response body produced over time, such as one line per result computed: the server writes each piece
/// as soon as it is handed over, with chunked transfer coding (HTTP/1.0: until the connection closes).
public struct BodyStream: Sendable {
    /// Hands one piece of the body to the server; safe from any thread, and cheap after the client has gone.
    public typealias Write = @Sendable (Data) -> Void
    public let produce: @Sendable (_ write: @escaping Write) async -> Void

    /// - Parameter produce: writes the body through `write` and returns when it is complete; it should stop
    ///   early once the request's context says it is cancelled.
    public init(_ produce: @escaping @Sendable (_ write: @escaping Write) async -> Void) {
        self.produce = produce
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
