import Foundation
import HTTPServer

/// A KServe v1 `:predict` body: `{"instances": [{"video": {"b64": "..."}}, ...]}`, each instance one encoded
/// video, base64 (as `{"b64": ...}`, KServe's convention for binary, or a bare string; TensorFlow Serving's
/// shorthands for a model's one binary input too, see `encodedVideo`). An instance may also
/// carry `top_k` (default 5) and `clips`, which mean what they mean on /classify.
struct V1PredictRequest {
    struct Instance {
        var video: Data
        var topK: Int
        var clips: Int
    }

    var instances: [Instance]

    /// - Parameter context: the request's, which holds the parsed JSON against the server's body budget (`JSONBody`).
    /// - Throws: `ServiceError.malformedBody` or `.badParameter`, naming the instance; 413 or 503 for JSON with too
    ///   many values (`JSONBody`).
    init(body: Data, classes: Int, maxClips: Int, context: RequestContext? = nil) throws {
        guard let json = try JSONBody.parse(body, context: context, what: "the predict request",
                                        hint: "; it must be a JSON object with 'instances'") as? [String: Any] else {
            throw ServiceError.malformedBody("the predict request must be a JSON object with 'instances'")
        }
        guard let raw = json["instances"] as? [Any], !raw.isEmpty else {
            throw ServiceError.malformedBody("'instances' must be a non-empty array of {\"video\": {\"b64\": ...}}")
        }
        guard raw.count <= maxClips else {
            throw ServiceError.badParameter("at most \(maxClips) instances a request, got \(raw.count)")
        }
        instances = try raw.enumerated().map { index, value in
            guard let instance = value as? [String: Any] else { throw ServiceError.malformedBody("instances[\(index)] must be an object") }
            guard let text = Self.encodedVideo(instance) else {
                throw ServiceError.malformedBody("instances[\(index)] needs 'video' as {\"b64\": \"<base64 of the video>\"}")
            }
            guard let video = Data(base64Encoded: text, options: .ignoreUnknownCharacters), !video.isEmpty else {
                throw ServiceError.malformedBody("instances[\(index)].video is not base64, or is empty")
            }
            let topK = try InferenceRequest.integer(instance["top_k"], "instances[\(index)].top_k") ?? min(5, classes)
            let clips = try InferenceRequest.integer(instance["clips"], "instances[\(index)].clips") ?? 1
            guard (1...classes).contains(topK) else { throw ServiceError.badParameter("top_k must be from 1 to \(classes), got \(topK)") }
            guard (1...maxClips).contains(clips) else { throw ServiceError.badParameter("clips must be from 1 to \(maxClips), got \(clips)") }
            return Instance(video: video, topK: topK, clips: clips)
        }
    }

    /// The base64 text of an instance's video: `video` (as {"b64": ...} or a string); else, as TensorFlow Serving
    /// takes a model's one binary input, the instance's own "b64", or its only {"b64": ...} value whatever its name.
    static func encodedVideo(_ instance: [String: Any]) -> String? {
        func b64(_ value: Any?) -> String? { (value as? [String: Any])?["b64"] as? String }
        if let video = instance["video"] { return b64(video) ?? video as? String }
        if let text = instance["b64"] as? String { return text }
        let binary = instance.values.compactMap(b64)
        return binary.count == 1 ? binary[0] : nil
    }
}
