import COpenSSL
import Foundation
import HTTPServer

/// What `POST /v1/jobs` asks for: the video (as for /v1/classify) and the timeline options (`RequestOptions`),
/// and the Idempotency-Key claim if one was sent.
struct JobRequest {
    var video: Data
    var options: TimelineOptions
    var idempotency: IdempotencyClaim?

    /// - Throws: `ServiceError.badParameter`, `.malformedBody`, `.unsupportedMediaType`; `MultipartError`;
    ///   `JobError.badIdempotencyKey`; `ContentCodingError`.
    init(_ request: HTTPRequest, classes: Int, context: RequestContext) throws {
        let asked: RequestOptions
        (video, asked) = try ClassifyRequest.upload(request, context: context)
        let topK = try ClassifyRequest.integer(asked, "top_k", default: 5, range: 1...classes)
        options = try ClassifyRequest.timelineOptions(asked, topK: topK, implied: true)!
        if let key = request.headers["Idempotency-Key"] {
            guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ (0x20...0x7e).contains($0) }) else {
                throw JobError.badIdempotencyKey
            }
            idempotency = Self.claim(key: key, request: request)
        }
    }

    /// Keys are scoped to the caller's credentials (one client's key never names another's job) and carry a
    /// fingerprint of the query and body, so a key reused for a different request is caught.
    static func claim(key: String, request: HTTPRequest) -> IdempotencyClaim {
        let scope = sha256Hex(Data((request.headers["Authorization"] ?? "").utf8))
        var fingerprinted = Data(request.head.target.utf8)
        fingerprinted.append(0)
        fingerprinted.append(request.body)
        return IdempotencyClaim(scopedKey: sha256Hex(Data((scope + "\n" + key).utf8)), fingerprint: sha256Hex(fingerprinted))
    }

    static func sha256Hex(_ data: Data) -> String {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        data.withUnsafeBytes { _ = SHA256($0.bindMemory(to: UInt8.self).baseAddress, $0.count, &digest) }
        return digest.map { String(format: "%02x", $0) }.joined()
    }
}
