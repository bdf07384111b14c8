import Foundation

extension HTTPResponse {
    /// The response as sent: status line, header fields (with Content-Length, the request id and, when the
    /// connection ends after it, `Connection: close`), and the body unless it answers a HEAD.
    func encoded(close: Bool, isHead: Bool, requestID: String?) -> [UInt8] {
        var bytes = encodedHead(close: close, requestID: requestID, framing: status.allowsBody ? .length(body.count) : .none)
        if !isHead { bytes += body }
        return bytes
    }

    enum Framing {
        case length(Int)
        case chunked
        /// The body ends when the connection closes (a stream to an HTTP/1.0 client).
        case none
    }

    func encodedHead(close: Bool, requestID: String?, framing: Framing) -> [UInt8] {
        var head = "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n"
        var headers = headers
        switch framing {
        case .length(let count): headers.set("Content-Length", "\(count)")
        case .chunked: headers.set("Transfer-Encoding", "chunked")
        case .none: break
        }
        if let requestID { headers.set("X-Request-Id", requestID) }
        if close { headers.set("Connection", "close") }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        return Array(head.utf8)
    }

    /// One piece of a chunked body: its size in hex, the bytes, CRLF.
    static func chunk(_ data: Data) -> [UInt8] {
        Array((String(data.count, radix: 16) + "\r\n").utf8) + data + [13, 10]
    }

    static let lastChunk = Array("0\r\n\r\n".utf8)

    /// Sends the response, saying the connection closes, in one best-effort write on a socket no connection owns:
    /// a refusal before any request is read.
    func sendRefusal(on fd: Int32) {
        encoded(close: true, isHead: false, requestID: nil).withUnsafeBytes {
            _ = send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
        }
    }
}
