import CZlib
import Foundation

/// The body codings of RFC 9110 section 8.4.1 that clients use to shrink tensors: gzip (RFC 1952) and deflate,
/// which on the wire means the zlib format (RFC 1950), not raw deflate.
public enum ContentCoding: String, Sendable, CaseIterable {
    case gzip, deflate

    /// zlib's windowBits: 15 is a 32 KiB window; +16 asks for the gzip wrapper instead of zlib's.
    private var windowBits: Int32 { self == .gzip ? 15 + 16 : 15 }

    /// `body` with every coding `Content-Encoding` lists undone (they apply in the order listed).
    /// - Parameters:
    ///   - limit: the most bytes any stage may decode to; a decompression bomb stops there.
    ///   - context: the request's, whose share of the body budget the decoded bytes are charged to, so that many
    ///     small coded bodies cannot make the server hold more than uncoded ones could.
    /// - Throws: `ContentCodingError.unsupported` (415), `.corrupt` (400), `.tooLarge` (413) or `.overBudget` (503).
    public static func decodeBody(_ body: Data, headers: HTTPHeaders, limit: Int, context: RequestContext?) throws -> Data {
        var data = body
        for name in headers.tokens("Content-Encoding").reversed() where name != "identity" {
            guard let coding = ContentCoding(rawValue: name == "x-gzip" ? "gzip" : name) else {
                throw ContentCodingError.unsupported(name)
            }
            data = try coding.decode(data, limit: limit, hold: { context?.hold($0) ?? true })
        }
        return data
    }

    /// The coding to answer with for `Accept-Encoding`: gzip, then deflate, among those with a non-zero q.
    public static func preferred(acceptEncoding: [String]) -> ContentCoding? {
        var accepted: [String: Double] = [:]
        for item in acceptEncoding.flatMap({ $0.split(separator: ",") }) {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            let q = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            accepted[parts.first ?? ""] = q
        }
        return [.gzip, .deflate].first { (accepted[$0.rawValue] ?? accepted["*"] ?? 0) > 0 }
    }

    /// Bodies smaller than this are sent as they are: compressing them saves little and costs a header and a pass.
    public static let minimumBytes = 1024

    /// `response` compressed for the client's `Accept-Encoding`, when it accepts a coding and the body is
    /// worth compressing; otherwise as it was.
    public static func compress(_ response: HTTPResponse, acceptEncoding: [String]) -> HTTPResponse {
        guard response.body.count >= minimumBytes, response.headers["Content-Encoding"] == nil,
              let coding = preferred(acceptEncoding: acceptEncoding), let body = try? coding.encode(response.body) else { return response }
        var compressed = response
        compressed.body = body
        compressed.headers.set("Content-Encoding", coding.rawValue)
        compressed.headers.set("Vary", "Accept-Encoding")
        return compressed
    }

    /// `response` as every route answers: compressed for `Accept-Encoding` when it is JSON or text of 1 KiB or
    /// more (a timeline's JSON shrinks about fourfold), with `Vary: Accept-Encoding` on every such answer so a cache
    /// keeps the two apart. Streamed bodies, bodies already coded, ones cached by ETag (the page's assets, whose
    /// validators name one representation) and other types (video, tensors) are left as they are.
    /// The request's `Accept-Encoding` is read only for such answers: health checks and other small ones cost
    /// nothing more.
    public static func negotiate(_ response: HTTPResponse, requestHeaders: HTTPHeaders) -> HTTPResponse {
        // Smaller answers are never compressed, so they do not vary either.
        guard response.body.count >= minimumBytes, response.stream == nil, response.headers["ETag"] == nil,
              response.headers["Content-Encoding"] == nil, isText(response.headers["Content-Type"]) else { return response }
        var answer = compress(response, acceptEncoding: requestHeaders.values("Accept-Encoding"))
        answer.headers.set("Vary", "Accept-Encoding")
        return answer
    }

    /// JSON (`application/json`, `application/problem+json`, ...) or `text/*`.
    static func isText(_ contentType: String?) -> Bool {
        guard let type = contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() else {
            return false
        }
        return type.hasPrefix("text/") || type == "application/json" || type.hasSuffix("+json")
    }

    /// - Parameter hold: asked for each piece of output before it is kept; false stops the decoding.
    /// - Throws: `ContentCodingError.corrupt` when `data` is not a complete stream of this coding with nothing
    ///   after it, `.tooLarge` when it decodes to more than `limit` bytes, `.overBudget` when `hold` refuses.
    public func decode(_ data: Data, limit: Int, hold: (Int) -> Bool = { _ in true }) throws -> Data {
        var stream = z_stream()
        guard czlib_inflateInit2(&stream, windowBits) == Z_OK else { throw ContentCodingError.corrupt(self, "zlib could not start") }
        defer { inflateEnd(&stream) }
        var output = Data()
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        return try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) -> Data in
            // zlib reads next_in but declares it mutable.
            stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(input.count)
            while true {
                let status = chunk.withUnsafeMutableBufferPointer { out -> Int32 in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    return CZlib.inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                guard output.count + produced <= limit else { throw ContentCodingError.tooLarge(limit: limit) }
                guard hold(produced) else { throw ContentCodingError.overBudget }
                output.append(contentsOf: chunk[0..<produced])
                switch status {
                case Z_STREAM_END:
                    guard stream.avail_in == 0 else { throw ContentCodingError.corrupt(self, "bytes follow the end of the stream") }
                    return output
                case Z_OK:
                    continue
                case Z_BUF_ERROR where stream.avail_in == 0:
                    throw ContentCodingError.corrupt(self, "the stream is cut short")
                default:
                    throw ContentCodingError.corrupt(self, "the stream is damaged")
                }
            }
        }
    }

    /// `data` compressed at zlib's default level.
    /// - Throws: `ContentCodingError.corrupt` only if zlib itself fails.
    public func encode(_ data: Data) throws -> Data {
        var stream = z_stream()
        guard czlib_deflateInit2(&stream, Z_DEFAULT_COMPRESSION, windowBits) == Z_OK else {
            throw ContentCodingError.corrupt(self, "zlib could not start")
        }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(data.count))) + 32)
        let status = data.withUnsafeBytes { (input: UnsafeRawBufferPointer) -> Int32 in
            stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(input.count)
            return output.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                return CZlib.deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw ContentCodingError.corrupt(self, "zlib could not compress") }
        return Data(output[0..<Int(stream.total_out)])
    }
}

/// A request body whose coding cannot be undone.
public enum ContentCodingError: HTTPResponseError, Equatable {
    case unsupported(String)
    case corrupt(ContentCoding, String)
    case tooLarge(limit: Int)
    /// The decoded bytes would not fit the server's body budget beside the other requests' bodies.
    case overBudget

    public var status: HTTPStatus {
        switch self {
        case .unsupported: .unsupportedMediaType
        case .corrupt: .badRequest
        case .tooLarge: .contentTooLarge
        case .overBudget: .serviceUnavailable
        }
    }

    public var detail: String {
        switch self {
        case .unsupported(let name): "Content-Encoding '\(name.prefix(40))' is not supported; use gzip, deflate or none"
        case .corrupt(let coding, let why): "the \(coding.rawValue) body cannot be decoded: \(why)"
        case .tooLarge(let limit): "the body decompresses to more than \(limit) bytes"
        case .overBudget: BodyBudget.refusal
        }
    }

    public var responseHeaders: HTTPHeaders {
        switch self {
        case .unsupported: ["Accept-Encoding": "gzip, deflate"]
        case .overBudget: ["Retry-After": "1"]
        default: [:]
        }
    }
}
