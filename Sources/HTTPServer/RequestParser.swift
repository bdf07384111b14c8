import Foundation

/// HTTP/1.1 and 1.0 request parsing (RFC 9112) as a state machine over bytes: feed it whatever the socket
/// gave, then call `next()` until it needs more. It knows nothing about sockets, so every case is testable
/// from byte strings, split anywhere.
///
/// Strict where laxness lets requests be smuggled or floods through: lines end in CRLF only (a bare CR or LF,
/// or a NUL, in the head is a 400); no obs-fold; Content-Length with Transfer-Encoding is a 400; a
/// Transfer-Encoding other than `chunked` is a 501; differing Content-Lengths, or a non-numeric, negative or
/// overflowing length or chunk size, are a 400; HTTP/1.1 needs exactly one Host.
public struct RequestParser {
    public enum Event {
        /// Nothing complete yet: feed more bytes.
        case needMore
        /// The head of the next request is complete (its body may follow); answer `Expect: 100-continue` now.
        case head(RequestHead)
        case request(HTTPRequest)
        /// The request is refused; answer with its status and close the connection.
        case error(HTTPParseError)
    }

    private enum State {
        case head
        case fixedBody(RequestHead, remaining: Int)
        case chunkSize(RequestHead)
        case chunkData(RequestHead, remaining: Int)
        case chunkDataEnd(RequestHead)
        case trailers(RequestHead, bytes: Int, fields: Int)
        case failed(HTTPParseError)
    }

    public let limits: HTTPLimits
    private var state = State.head
    private var buffer: [UInt8] = []
    private var start = 0
    private var body = Data()

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// True between requests with nothing buffered: the connection may be closed without losing anything.
    public var isIdle: Bool {
        if case .head = state { return buffer.count == start }
        return false
    }

    /// The Content-Length of the request whose head was just returned (0 without one, or when chunked).
    var declaredBodyLength: Int {
        if case .fixedBody(_, let remaining) = state { remaining } else { 0 }
    }

    /// True while a request's head has been seen but not its whole body.
    public var isInBody: Bool {
        switch state {
        case .fixedBody, .chunkSize, .chunkData, .chunkDataEnd, .trailers: true
        default: false
        }
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        var bytes = bytes[...]
        // A fixed-length body goes straight into the body: one copy from the socket buffer.
        if case .fixedBody(_, let remaining) = state, start == buffer.count, remaining - body.count > 0 {
            let take = min(bytes.count, remaining - body.count)
            body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes.prefix(take)))
            bytes = bytes.dropFirst(take)
        }
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 64 * 1024 && start > buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        Array(bytes).withUnsafeBytes { append($0) }
    }

    public mutating func next() -> Event {
        while true {
            switch state {
            case .failed(let error):
                return .error(error)
            case .head:
                guard let result = parseHead() else { return .needMore }
                switch result {
                case .failure(let error): return fail(error)
                case .success(let (head, framing)):
                    switch framing {
                    case .none: state = .fixedBody(head, remaining: 0)
                    case .length(let n):
                        // Sized once (n is within the limit): appends then never regrow and copy the body.
                        body.reserveCapacity(n)
                        state = .fixedBody(head, remaining: n)
                    case .chunked: state = .chunkSize(head)
                    }
                    return .head(head)
                }
            case .fixedBody(let head, let remaining):
                let need = remaining - body.count
                if need > 0 {
                    let take = min(need, buffer.count - start)
                    body.append(contentsOf: buffer[start..<start + take])
                    start += take
                    if take < need { return .needMore }
                }
                return complete(head)
            case .chunkSize(let head):
                guard let line = takeLine(limit: 1024) else { return .needMore }
                guard case .success(let bytes) = line else { return fail(HTTPParseError(400, "chunk size line too long or malformed")) }
                let sizeText = bytes.prefix { $0 != UInt8(ascii: ";") }.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }
                guard !sizeText.isEmpty, sizeText.count <= 15, let size = Int(String(decoding: sizeText, as: UTF8.self), radix: 16), size >= 0,
                      sizeText.allSatisfy({ Self.isHexDigit($0) })
                else { return fail(HTTPParseError(400, "malformed chunk size")) }
                if size == 0 {
                    state = .trailers(head, bytes: 0, fields: 0)
                } else {
                    guard body.count + size <= limits.maxBodyBytes else {
                        return fail(HTTPParseError(413, "the body is larger than \(limits.maxBodyBytes) bytes", requestHeaders: head.headers))
                    }
                    state = .chunkData(head, remaining: size)
                }
            case .chunkData(let head, let remaining):
                let take = min(remaining, buffer.count - start)
                body.append(contentsOf: buffer[start..<start + take])
                start += take
                if take < remaining {
                    state = .chunkData(head, remaining: remaining - take)
                    return .needMore
                }
                state = .chunkDataEnd(head)
            case .chunkDataEnd(let head):
                guard buffer.count - start >= 2 else { return .needMore }
                guard buffer[start] == 13 && buffer[start + 1] == 10 else { return fail(HTTPParseError(400, "chunk data not followed by CRLF")) }
                start += 2
                state = .chunkSize(head)
            case .trailers(let head, let bytes, let fields):
                guard let line = takeLine(limit: limits.maxHeaderBytes) else {
                    if buffer.count - start + bytes > limits.maxHeaderBytes { return fail(HTTPParseError(431, "trailer section too large")) }
                    return .needMore
                }
                guard case .success(let content) = line else { return fail(HTTPParseError(400, "malformed trailer")) }
                if content.isEmpty { return complete(head) }
                guard fields + 1 <= limits.maxHeaderFields, bytes + content.count + 2 <= limits.maxHeaderBytes else {
                    return fail(HTTPParseError(431, "trailer section too large"))
                }
                guard case .success = Self.parseField(content) else { return fail(HTTPParseError(400, "malformed trailer field")) }
                state = .trailers(head, bytes: bytes + content.count + 2, fields: fields + 1)
            }
        }
    }

    private mutating func complete(_ head: RequestHead) -> Event {
        let request = HTTPRequest(head: head, body: body)
        body = Data()
        state = .head
        return .request(request)
    }

    private mutating func fail(_ error: HTTPParseError) -> Event {
        state = .failed(error)
        return .error(error)
    }

    private static func isHexDigit(_ b: UInt8) -> Bool {
        (b >= 48 && b <= 57) || (b >= 65 && b <= 70) || (b >= 97 && b <= 102)
    }

    /// The next CRLF-terminated line without its CRLF; nil if incomplete; failure on a bare CR or LF or past `limit`.
    private mutating func takeLine(limit: Int) -> Result<ArraySlice<UInt8>, HTTPParseError>? {
        var i = start
        while i < buffer.count {
            if buffer[i] == 10 { return .failure(HTTPParseError(400, "bare LF")) }
            if buffer[i] == 13 {
                guard i + 1 < buffer.count else { return nil }
                guard buffer[i + 1] == 10 else { return .failure(HTTPParseError(400, "bare CR")) }
                let line = buffer[start..<i]
                start = i + 2
                return .success(line)
            }
            if i - start >= limit { return .failure(HTTPParseError(400, "line too long")) }
            i += 1
        }
        return nil
    }

    private enum Framing { case none, length(Int), chunked }

    /// Parses the head once it is all buffered; nil while incomplete.
    private mutating func parseHead() -> Result<(RequestHead, Framing), HTTPParseError>? {
        // RFC 9112 section 2.2: ignore empty lines before the request line.
        while buffer.count - start >= 2 && buffer[start] == 13 && buffer[start + 1] == 10 { start += 2 }
        guard start < buffer.count else { return nil }
        let bytes = buffer[start...]
        guard let end = Self.find(headEnd: bytes) else {
            if !bytes.prefix(limits.maxRequestLine + 2).contains(10) && bytes.count > limits.maxRequestLine {
                return .failure(HTTPParseError(414, "the request line is longer than \(limits.maxRequestLine) bytes"))
            }
            if bytes.count > limits.maxRequestLine + 2 + limits.maxHeaderBytes + 2 {
                return .failure(HTTPParseError(431, "the header section is larger than \(limits.maxHeaderBytes) bytes"))
            }
            if bytes.contains(0) { return .failure(HTTPParseError(400, "NUL in the request head")) }
            // A head with LF-only line ends never shows CRLF CRLF: refuse it now rather than at the header timeout.
            if let lf = bytes.firstIndex(of: 10), lf == bytes.startIndex || bytes[lf - 1] != 13 {
                return .failure(HTTPParseError(400, "bare LF in the request head"))
            }
            return nil
        }
        let head = buffer[start..<end]
        start = end + 4
        return Self.parse(head: head, limits: limits)
    }

    private static func find(headEnd bytes: ArraySlice<UInt8>) -> Int? {
        var i = bytes.startIndex
        while i + 3 < bytes.endIndex {
            if bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { return i }
            i += 1
        }
        return nil
    }

    private static func parse(head: ArraySlice<UInt8>, limits: HTTPLimits) -> Result<(RequestHead, Framing), HTTPParseError> {
        // Lines end in CRLF only; NUL never appears.
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = head.startIndex
        var i = head.startIndex
        while i < head.endIndex {
            switch head[i] {
            case 0: return .failure(HTTPParseError(400, "NUL in the request head"))
            case 10: return .failure(HTTPParseError(400, "bare LF in the request head"))
            case 13:
                guard i + 1 < head.endIndex, head[i + 1] == 10 else { return .failure(HTTPParseError(400, "bare CR in the request head")) }
                lines.append(head[lineStart..<i])
                i += 2
                lineStart = i
                continue
            default: break
            }
            i += 1
        }
        lines.append(head[lineStart..<head.endIndex])
        let requestLine = lines.removeFirst()
        guard requestLine.count <= limits.maxRequestLine else {
            return .failure(HTTPParseError(414, "the request line is longer than \(limits.maxRequestLine) bytes"))
        }
        guard lines.count <= limits.maxHeaderFields else {
            return .failure(HTTPParseError(431, "more than \(limits.maxHeaderFields) header fields"))
        }
        guard head.count - requestLine.count <= limits.maxHeaderBytes else {
            return .failure(HTTPParseError(431, "the header section is larger than \(limits.maxHeaderBytes) bytes"))
        }
        let parts = requestLine.split(separator: 32, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(isTokenCharacter), !parts[1].isEmpty,
              parts[1].allSatisfy({ $0 > 32 && $0 != 127 }) else {
            return .failure(HTTPParseError(400, "malformed request line"))
        }
        let method = String(decoding: parts[0], as: UTF8.self)
        var target = String(decoding: parts[1], as: UTF8.self)
        let version = String(decoding: parts[2], as: UTF8.self)
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            if version.hasPrefix("HTTP/") { return .failure(HTTPParseError(505, "only HTTP/1.1 and HTTP/1.0 are served")) }
            return .failure(HTTPParseError(400, "malformed request line"))
        }
        if !target.hasPrefix("/"), target.lowercased().hasPrefix("http"), let schemeEnd = target.range(of: "://") {
            // absolute-form: keep the path and query.
            let afterAuthority = target[schemeEnd.upperBound...].drop { $0 != "/" && $0 != "?" }
            target = afterAuthority.isEmpty ? "/" : (afterAuthority.first == "?" ? "/" + afterAuthority : String(afterAuthority))
        }
        guard target.hasPrefix("/") || (target == "*" && method == "OPTIONS") else {
            return .failure(HTTPParseError(400, "the request target must be a path"))
        }
        var headers = HTTPHeaders()
        for line in lines {
            switch parseField(line) {
            case .success(let (name, value)): headers.add(name, value)
            case .failure(let error): return .failure(error)
            }
        }
        let request = RequestHead(method: method, target: target, version: version, headers: headers)
        let hosts = headers.values("Host")
        if version == "HTTP/1.1" && hosts.count != 1 || hosts.count > 1 {
            return .failure(HTTPParseError(400, hosts.isEmpty ? "HTTP/1.1 requests need a Host header" : "more than one Host header"))
        }
        // RFC 9110 section 10.1.1: 100-continue is the only expectation there is.
        if headers.tokens("Expect").contains(where: { $0 != "100-continue" }) {
            return .failure(HTTPParseError(417, "the only expectation served is 100-continue"))
        }
        let transferEncoding = headers.tokens("Transfer-Encoding")
        let lengths = headers.values("Content-Length")
        if !transferEncoding.isEmpty {
            guard lengths.isEmpty else { return .failure(HTTPParseError(400, "Content-Length together with Transfer-Encoding")) }
            guard version == "HTTP/1.1" else { return .failure(HTTPParseError(400, "Transfer-Encoding in an HTTP/1.0 request")) }
            guard transferEncoding == ["chunked"] else {
                return .failure(HTTPParseError(501, "only the chunked transfer coding is supported"))
            }
            return .success((request, .chunked))
        }
        guard !lengths.isEmpty else { return .success((request, .none)) }
        let values = lengths.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }.map { $0.trimmingHTTPWhitespace() }
        guard let first = values.first, values.allSatisfy({ $0 == first }) else {
            return .failure(HTTPParseError(400, "differing Content-Length values"))
        }
        guard !first.isEmpty, first.count <= 18, first.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let length = Int(first) else {
            return .failure(HTTPParseError(400, "malformed Content-Length"))
        }
        guard length <= limits.maxBodyBytes else {
            return .failure(HTTPParseError(413, "the body is larger than \(limits.maxBodyBytes) bytes", requestHeaders: request.headers))
        }
        return .success((request, .length(length)))
    }

    /// `name: value` with a token name, no space before the colon, and no control characters in the value.
    static func parseField(_ line: ArraySlice<UInt8>) -> Result<(String, String), HTTPParseError> {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return .failure(HTTPParseError(400, "header field without a colon")) }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenCharacter) else {
            return .failure(HTTPParseError(400, "malformed header field name (or obsolete line folding)"))
        }
        let value = line[(colon + 1)...]
        guard value.allSatisfy({ $0 == 9 || ($0 >= 32 && $0 != 127) }) else {
            return .failure(HTTPParseError(400, "control character in a header field value"))
        }
        return .success((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self).trimmingHTTPWhitespace()))
    }

    /// RFC 9110 tchar.
    static func isTokenCharacter(_ b: UInt8) -> Bool {
        switch b {
        case 48...57, 65...90, 97...122: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }
}
