/// Accuracy over a labelled set, accumulated one video at a time: clip-level and video-level top-1/top-5
/// (torchvision's protocol), per-class accuracy, the most confused pairs and the failed videos.
public struct EvaluationMetrics: Sendable {
    public let labels: [String]
    private(set) var videos = 0
    private(set) var clips = 0
    private(set) var clipTop1 = 0
    private(set) var clipTop5 = 0
    private(set) var videoTop1 = 0
    private(set) var videoTop5 = 0
    private var perClass: [Int: (videos: Int, top1: Int, top5: Int)] = [:]
    /// (true class, predicted class) -> videos, for wrong top-1s.
    private var confusions: [Pair: Int] = [:]
    private(set) var failures: [EvaluationRecord] = []

    private struct Pair: Hashable { let target: Int, predicted: Int }

    public init(labels: [String]) { self.labels = labels }

    public mutating func add(_ record: EvaluationRecord) {
        guard let predicted = record.predicted, !record.failed else {
            failures.append(record)
            return
        }
        videos += 1
        clips += record.clips
        clipTop1 += record.clipTop1
        clipTop5 += record.clipTop5
        let top1 = predicted == record.target, top5 = record.top5.contains(record.target)
        videoTop1 += top1 ? 1 : 0
        videoTop5 += top5 ? 1 : 0
        var entry = perClass[record.target] ?? (0, 0, 0)
        entry.videos += 1
        entry.top1 += top1 ? 1 : 0
        entry.top5 += top5 ? 1 : 0
        perClass[record.target] = entry
        if !top1 { confusions[Pair(target: record.target, predicted: predicted), default: 0] += 1 }
    }

    /// - Parameter confusedPairs: how many of the most confused pairs to list.
    public func summary(confusedPairs: Int = 10, skipped: Int = 0, interrupted: Bool = false) -> EvaluationSummary {
        func name(_ index: Int) -> String { index < labels.count ? labels[index] : "class \(index)" }
        let classes = perClass.sorted { $0.key < $1.key }.map { index, entry in
            EvaluationSummary.ClassAccuracy(label: name(index), index: index, videos: entry.videos, top1: ratio(entry.top1, entry.videos),
                                            top5: ratio(entry.top5, entry.videos))
        }
        let confused = confusions.sorted { $0.value > $1.value || ($0.value == $1.value && ($0.key.target, $0.key.predicted) < ($1.key.target, $1.key.predicted)) }
            .prefix(confusedPairs)
            .map { EvaluationSummary.Confusion(label: name($0.key.target), predicted: name($0.key.predicted), videos: $0.value) }
        return EvaluationSummary(
            videos: videos + failures.count, evaluated: videos, failed: failures.count, skipped: skipped, interrupted: interrupted,
            clip: .init(count: clips, top1: ratio(clipTop1, clips), top5: ratio(clipTop5, clips), top1_correct: clipTop1, top5_correct: clipTop5),
            video: .init(count: videos, top1: ratio(videoTop1, videos), top5: ratio(videoTop5, videos), top1_correct: videoTop1, top5_correct: videoTop5),
            per_class: classes, most_confused: Array(confused),
            failures: failures.map { .init(path: $0.path, label: $0.className, error: $0.error ?? "") })
    }

    private func ratio(_ part: Int, _ whole: Int) -> Double { whole == 0 ? 0 : Double(part) / Double(whole) }
}

/// What `r2plus1d eval` reports, as its `--json` file holds it.
public struct EvaluationSummary: Sendable, Codable, Equatable {
    public struct Accuracy: Sendable, Codable, Equatable {
        public var count: Int
        public var top1: Double
        public var top5: Double
        public var top1_correct: Int
        public var top5_correct: Int
    }

    public struct ClassAccuracy: Sendable, Codable, Equatable {
        public var label: String
        public var index: Int
        public var videos: Int
        public var top1: Double
        public var top5: Double
    }

    public struct Confusion: Sendable, Codable, Equatable {
        public var label: String
        public var predicted: String
        public var videos: Int
    }

    public struct Failure: Sendable, Codable, Equatable {
        public var path: String
        public var label: String
        public var error: String
    }

    /// Videos with a result, evaluated or failed; `skipped` were left out for an unmatched class.
    public var videos: Int
    public var evaluated: Int
    public var failed: Int
    public var skipped: Int
    /// True when the run was stopped (SIGINT) before every video was done.
    public var interrupted: Bool
    public var clip: Accuracy
    public var video: Accuracy
    public var per_class: [ClassAccuracy]
    public var most_confused: [Confusion]
    public var failures: [Failure]
}
