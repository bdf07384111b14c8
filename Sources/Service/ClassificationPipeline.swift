import Foundation
import R2Plus1D
import VideoDecode

/// Decode, then forward, then the video-level answer: the one path from an upload to its `Classification`,
/// used by `serve` (decode pool and batch scheduler) and by `classify` (both in-process).
public struct ClassificationPipeline: Sendable {
    /// An encoded video and a clip count in, sampled clips out.
    public typealias Decode = @Sendable (_ video: Data, _ clips: Int) async throws -> DecodedClips
    /// Clips in, logits out, within `deadlineSeconds`; `isCancelled` says nobody waits any more.
    public typealias Forward = @Sendable (_ clips: DecodedClips, _ deadlineSeconds: Double,
                                          _ isCancelled: @escaping @Sendable () -> Bool) async throws -> ClipLogits

    let decode: Decode
    let forward: Forward
    public let labels: Labels
    public let model: ModelInfo
    /// From arrival to answer: the forward pass gets what decoding left of it.
    let timeoutSeconds: Double

    public init(decode: @escaping Decode, forward: @escaping Forward, labels: Labels, model: ModelInfo,
                timeoutSeconds: Double = .infinity) {
        self.decode = decode
        self.forward = forward
        self.labels = labels
        self.model = model
        self.timeoutSeconds = timeoutSeconds
    }

    /// - Throws: what `decode` and `forward` throw.
    public func classify(_ video: Data, clips: Int, topK: Int,
                         isCancelled: @escaping @Sendable () -> Bool = { false }) async throws -> Classification {
        let arrived = Self.now()
        let decoded = try await decode(video, clips)
        let decodeSeconds = Self.seconds(since: arrived)
        let result = try await forward(decoded, timeoutSeconds - decodeSeconds, isCancelled)
        let timing = Classification.Timing(decode: decodeSeconds * 1000, queue: result.queueSeconds * 1000,
                                           inference: result.inferenceSeconds * 1000, total: Self.seconds(since: arrived) * 1000)
        return Classification(logits: result.logits, labels: labels, topK: topK, decoded: decoded, model: model, timing: timing)
    }

    /// The forward pass on the calling thread, one call for all the clips: for offline use.
    public static func direct(_ network: R2Plus1D18) -> Forward {
        { decoded, _, _ in
            let start = now()
            let logits = network.forward(Tensor(shape: decoded.shape, data: decoded.values))
            let classes = logits.shape[1]
            let rows = (0..<decoded.clipCount).map { Array(logits.data[$0 * classes..<($0 + 1) * classes]) }
            return ClipLogits(logits: rows, queueSeconds: 0, inferenceSeconds: seconds(since: start))
        }
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
    static func seconds(since start: UInt64) -> Double { Double(now() - start) / 1e9 }
}
