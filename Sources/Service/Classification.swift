import Foundation
import VideoDecode

/// The answer to one classification, as the API and `r2plus1d classify` print it.
public struct Classification: Sendable, Encodable {
    public struct Prediction: Sendable, Encodable, Equatable {
        public var label: String
        public var index: Int
        public var score: Double
    }

    public struct Video: Sendable, Encodable {
        public var container: String
        public var codec: String
        public var width: Int
        public var height: Int
        public var fps: Double
        public var duration_s: Double
    }

    public struct Timing: Sendable, Encodable {
        public var decode: Double
        public var queue: Double
        public var inference: Double
        public var total: Double

        public init(decode: Double, queue: Double, inference: Double, total: Double) {
            self.decode = decode
            self.queue = queue
            self.inference = inference
            self.total = total
        }
    }

    public var predictions: [Prediction]
    public var clips: [ClipSpan]
    public var video: Video
    public var model: ModelInfo
    public var timing_ms: Timing
    /// With a timeline: each window, and the segments they merge into (absent otherwise).
    public var timeline: [Timeline.Window]?
    public var segments: [Timeline.Segment]?

    /// Softmax of each clip's logits, averaged over clips (torchvision's video-level protocol), top k sorted.
    public static func predictions(logits: [[Float]], labels: Labels, topK: Int) -> [Prediction] {
        guard let classes = logits.first?.count, classes > 0 else { return [] }
        var mean = [Double](repeating: 0, count: classes)
        for clip in logits {
            for (i, p) in softmax(clip).enumerated() { mean[i] += p / Double(logits.count) }
        }
        return predictions(probabilities: mean, labels: labels, topK: topK)
    }

    /// The k most probable classes, ties to the lower index.
    static func predictions(probabilities: [Double], labels: Labels, topK: Int) -> [Prediction] {
        probabilities.enumerated().sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }
            .prefix(max(1, min(topK, probabilities.count)))
            .map { Prediction(label: $0.offset < labels.names.count ? labels.names[$0.offset] : "class \($0.offset)",
                              index: $0.offset, score: $0.element) }
    }

    static func softmax(_ logits: [Float]) -> [Double] {
        let peak = Double(logits.max() ?? 0)
        let exps = logits.map { Foundation.exp(Double($0) - peak) }
        let total = exps.reduce(0, +)
        return exps.map { $0 / total }
    }

    public init(logits: [[Float]], labels: Labels, topK: Int, decoded: DecodedClips, model: ModelInfo, timing: Timing) {
        self.init(predictions: Self.predictions(logits: logits, labels: labels, topK: topK), clips: decoded.spans,
                  info: decoded.info, model: model, timing: timing)
    }

    init(predictions: [Prediction], clips: [ClipSpan], info: VideoInfo, model: ModelInfo, timing: Timing) {
        self.predictions = predictions
        self.clips = clips
        video = Video(container: info.container, codec: info.codec, width: info.width, height: info.height,
                      fps: info.fps, duration_s: info.durationSeconds)
        self.model = model
        timing_ms = timing
    }
}
