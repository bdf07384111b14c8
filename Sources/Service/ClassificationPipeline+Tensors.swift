import Foundation
import VideoDecode

/// The forward pass's raw outputs, for the inference protocols: the same decode, queue and deadlines as
/// `classify`, with a per-request timeout that can only shorten the service's.
extension ClassificationPipeline {
    /// Decodes `video` into `clips` clips and returns each clip's logits and embedding.
    /// - Throws: what `decode` and `forward` throw; `ServiceError.deadlineExceeded` past `timeoutSeconds`.
    func tensors(_ video: Data, clips: Int, timeoutSeconds: Double,
                 isCancelled: @escaping @Sendable () -> Bool) async throws -> ClipLogits {
        let arrived = Self.now()
        let decoded = try await decode(video, clips, nil)
        return try await forward(decoded, min(timeoutSeconds, self.timeoutSeconds) - Self.seconds(since: arrived), isCancelled)
    }

    /// Runs already preprocessed clips, (count, 3, 16, 112, 112) concatenated.
    func tensors(clips: [Float], count: Int, timeoutSeconds: Double,
                 isCancelled: @escaping @Sendable () -> Bool) async throws -> ClipLogits {
        let spec = ClipSpec.kinetics
        let info = VideoInfo(container: "tensor", codec: "none", width: spec.shape[3], height: spec.shape[2], fps: 0,
                             durationSeconds: 0, rotation: 0)
        let decoded = DecodedClips(values: clips, clipCount: count, info: info, frameTimes: Array(repeating: [], count: count),
                                   spans: Array(repeating: ClipSpan(start_s: 0, end_s: 0), count: count), decodedFrames: 0)
        return try await forward(decoded, min(timeoutSeconds, self.timeoutSeconds), isCancelled)
    }
}
