import Foundation

/// One video's outcome: what the predictions file holds a line of, and all the metrics need.
public struct EvaluationRecord: Sendable, Equatable {
    public var path: String
    /// The data's class name, as the data spells it.
    public var className: String
    /// The model's index for it.
    public var target: Int
    /// Video level (softmax averaged over the clips): the five most probable classes, best first, ties to the
    /// lower index, and their probabilities. Empty when the video failed.
    public var top5: [Int]
    public var scores: [Double]
    public var clips: Int
    /// Clips whose own top-1 is the target, and whose own top-5 holds it.
    public var clipTop1: Int
    public var clipTop5: Int
    /// Why the video could not be evaluated (unreadable, undecodable); nil when it was.
    public var error: String?

    public init(path: String, className: String, target: Int, top5: [Int], scores: [Double], clips: Int,
                clipTop1: Int, clipTop5: Int, error: String? = nil) {
        self.path = path
        self.className = className
        self.target = target
        self.top5 = top5
        self.scores = scores
        self.clips = clips
        self.clipTop1 = clipTop1
        self.clipTop5 = clipTop5
        self.error = error
    }

    /// From each clip's logits, torchvision's protocol: clip level from each clip's own scores, video level from
    /// the softmax averaged over clips (as `Classification` answers a request).
    public init(path: String, className: String, target: Int, logits: [[Float]]) {
        precondition(!logits.isEmpty)
        let ranks = logits.map { Self.rank(of: target, in: $0) }
        let top = Classification.predictions(logits: logits, labels: Labels(names: []), topK: 5)
        self.init(path: path, className: className, target: target, top5: top.map(\.index), scores: top.map(\.score),
                  clips: logits.count, clipTop1: ranks.count { $0 == 0 }, clipTop5: ranks.count { $0 < 5 })
    }

    public static func failed(path: String, className: String, target: Int, error: String) -> EvaluationRecord {
        EvaluationRecord(path: path, className: className, target: target, top5: [], scores: [], clips: 0, clipTop1: 0,
                         clipTop5: 0, error: error)
    }

    public var failed: Bool { error != nil }
    /// The video-level top-1, nil for a failed video.
    public var predicted: Int? { top5.first }

    /// Classes scored above `target`, ties to the lower index (the order `Classification` ranks by).
    static func rank<T: Comparable>(of target: Int, in scores: [T]) -> Int {
        scores.indices.count { scores[$0] > scores[target] || (scores[$0] == scores[target] && $0 < target) }
    }
}

/// The predictions file: a CSV with a header, one `EvaluationRecord` a line, written as each video finishes, so
/// `--resume` can skip what is done.
public enum PredictionsFile {
    static let header = ["path", "label", "target", "top5", "scores", "clips", "clip_top1", "clip_top5", "error"]

    public static var headerLine: String { CSVText.line(header) }

    public static func line(_ record: EvaluationRecord) -> String {
        CSVText.line([record.path, record.className, "\(record.target)", record.top5.map(String.init).joined(separator: " "),
                      record.scores.map { "\($0)" }.joined(separator: " "), "\(record.clips)", "\(record.clipTop1)",
                      "\(record.clipTop5)", record.error ?? ""])
    }

    /// The records of a predictions file. A last line cut short (the run was killed while writing it) is left
    /// out, so that video runs again.
    /// - Throws: `EvaluationError.malformedPredictions` for a file that is not one.
    public static func records(_ text: String, path: String, classes: Int) throws -> [EvaluationRecord] {
        let complete = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n").map(text.index(after:)) ?? text.startIndex)])
        let rows = try CSVText.rows(complete, path: path)
        guard let first = rows.first else { return [] }
        guard first.fields == header else {
            throw EvaluationError.malformedPredictions(path: path, line: 1, reason: "the header is not \(header.joined(separator: ","))")
        }
        return try rows.dropFirst().map { row in
            func bad(_ reason: String) -> EvaluationError { .malformedPredictions(path: path, line: row.line, reason: reason) }
            let f = row.fields
            guard f.count == header.count else { throw bad("\(f.count) fields, not \(header.count)") }
            guard let target = Int(f[2]), (0..<classes).contains(target) else { throw bad("target '\(f[2])' is not a class of this model") }
            let top5 = try f[3].split(separator: " ").map { value in
                guard let index = Int(value), (0..<classes).contains(index) else { throw bad("top5 holds '\(value)', not a class of this model") }
                return index
            }
            let scores = try f[4].split(separator: " ").map { value in
                guard let score = Double(value), score.isFinite else { throw bad("scores holds '\(value)'") }
                return score
            }
            guard let clips = Int(f[5]), let clipTop1 = Int(f[6]), let clipTop5 = Int(f[7]),
                  clips >= 0, (0...clipTop5).contains(clipTop1), clipTop5 <= clips, scores.count == top5.count
            else { throw bad("inconsistent counts") }
            return EvaluationRecord(path: f[0], className: f[1], target: target, top5: top5, scores: scores, clips: clips,
                                    clipTop1: clipTop1, clipTop5: clipTop5, error: f[8].isEmpty ? nil : f[8])
        }
    }
}
