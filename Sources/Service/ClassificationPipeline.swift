import Foundation
import R2Plus1D
import VideoDecode

/// Decode, then forward, then the video-level answer: the one path from an upload to its `Classification`,
/// used by `serve` (decode pool and batch scheduler) and by `classify` (both in-process).
public struct ClassificationPipeline: Sendable {
    /// An encoded video, a clip count and an optional time range in, sampled clips out.
    public typealias Decode = @Sendable (_ video: Data, _ clips: Int, _ range: ClosedRange<Double>?) async throws -> DecodedClips
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

    /// - Parameter range: sample the clips over this stretch only (seconds), as if the video were only that.
    /// - Throws: what `decode` and `forward` throw.
    public func classify(_ video: Data, clips: Int, topK: Int, range: ClosedRange<Double>? = nil,
                         isCancelled: @escaping @Sendable () -> Bool = { false }) async throws -> Classification {
        let arrived = Self.now()
        let decoded = try await decode(video, clips, range)
        let decodeSeconds = Self.seconds(since: arrived)
        let result = try await forward(decoded, timeoutSeconds - decodeSeconds, isCancelled)
        let timing = Classification.Timing(decode: decodeSeconds * 1000, queue: result.queueSeconds * 1000,
                                           inference: result.inferenceSeconds * 1000, total: Self.seconds(since: arrived) * 1000)
        return Classification(logits: result.logits, labels: labels, topK: topK, decoded: decoded, model: model, timing: timing)
    }

    /// A timeline of `video`, decoded in this process walking forward once, `chunk` windows per forward pass,
    /// so memory holds one chunk whatever the video's length. Each window is sampled as a single-clip
    /// classification restricted to its time range would be; the video-level answer averages every window's
    /// softmax. `onWindow` sees each window as soon as it is computed.
    /// - Throws: `DecodeError`, `ServiceError.badParameter` for bad options.
    public func timeline(_ video: Data, options: TimelineOptions, chunk: Int = 8, limits: DecodeLimits = .default,
                         forward: (DecodedClips) throws -> ClipLogits,
                         onWindow: (Timeline.Window) -> Void = { _ in }) throws -> Classification {
        try options.validate()
        let arrived = Self.now()
        var windows: [Timeline.Window] = []
        var spans: [ClipSpan] = []
        var sum: [Double] = []
        var decodeSeconds = 0.0, inferenceSeconds = 0.0
        var walkStart = Self.now()
        let info = try ClipDecoder.walk(video, chunk: chunk, limits: limits, starts: { duration in
            options.windows(duration: duration).map(TimelineOptions.clipStart)
        }) { clips in
            decodeSeconds += Self.seconds(since: walkStart)
            let result = try forward(clips)
            inferenceSeconds += result.inferenceSeconds
            for (i, logits) in result.logits.enumerated() {
                let probabilities = Classification.softmax(logits)
                if sum.isEmpty { sum = [Double](repeating: 0, count: probabilities.count) }
                for c in 0..<probabilities.count { sum[c] += probabilities[c] }
                let times = clips.frameTimes[i]
                let window = Timeline.Window(index: windows.count, start_s: times.first ?? 0, end_s: times.last ?? 0,
                                             predictions: Classification.predictions(probabilities: probabilities, labels: labels,
                                                                                     topK: options.topK))
                windows.append(window)
                spans.append(clips.spans[i])
                onWindow(window)
            }
            walkStart = Self.now()
            return true
        }
        let mean = sum.map { $0 / Double(max(1, windows.count)) }
        let timing = Classification.Timing(decode: decodeSeconds * 1000, queue: 0, inference: inferenceSeconds * 1000,
                                           total: Self.seconds(since: arrived) * 1000)
        var answer = Classification(predictions: Classification.predictions(probabilities: mean, labels: labels, topK: options.topK),
                                    clips: spans, info: info, model: model, timing: timing)
        answer.timeline = windows
        answer.segments = Timeline.segments(windows, threshold: options.threshold, minSeconds: options.minSegmentSeconds)
        return answer
    }

    /// The forward pass on the calling thread, one call for all the clips: for offline use.
    public static func direct(_ network: R2Plus1D18) -> Forward {
        { decoded, _, _ in forwardNow(network, decoded) }
    }

    /// All of `decoded`'s clips in one forward pass on the calling thread.
    public static func forwardNow(_ network: R2Plus1D18, _ decoded: DecodedClips) -> ClipLogits {
        let start = now()
        let (features, logits) = network.forwardWithFeatures(Tensor(shape: decoded.shape, data: decoded.values))
        let classes = logits.shape[1], width = features.shape[1]
        let rows = (0..<decoded.clipCount).map { Array(logits.data[$0 * classes..<($0 + 1) * classes]) }
        let embeddings = (0..<decoded.clipCount).map { Array(features.data[$0 * width..<($0 + 1) * width]) }
        return ClipLogits(logits: rows, embeddings: embeddings, queueSeconds: 0, inferenceSeconds: seconds(since: start))
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
    static func seconds(since start: UInt64) -> Double { Double(now() - start) / 1e9 }
}
