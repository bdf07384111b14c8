extension HTTPResponse {
    /// The response as sent: status line, header fields (with Content-Length, the request id and, when the
    /// connection ends after it, `Connection: close`), and the body unless it answers a HEAD.
    func encoded(close: Bool, isHead: Bool, requestID: String?) -> [UInt8] {
        var head = "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n"
        var headers = headers
        if status.allowsBody { headers.set("Content-Length", "\(body.count)") }
        if let requestID { headers.set("X-Request-Id", requestID) }
        if close { headers.set("Connection", "close") }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if !isHead { bytes += body }
        return bytes
    }
}
