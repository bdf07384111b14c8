import Foundation

/// How far an evaluation has got, as a terminal bar (`[#####.....]  50/100 videos  12.3 clips/s  ETA 0:41`) or a
/// plain log line. The rate counts only this run's clips, so a resumed run's ETA is not flattered by old results.
public struct EvaluationProgress: Sendable, Equatable {
    public var done: Int
    public var total: Int
    public var failed: Int
    public var clips: Int
    public var seconds: Double

    public init(done: Int, total: Int, failed: Int, clips: Int, seconds: Double) {
        self.done = done
        self.total = total
        self.failed = failed
        self.clips = clips
        self.seconds = seconds
    }

    public var clipsPerSecond: Double { seconds > 0 ? Double(clips) / seconds : 0 }

    /// Seconds left at this run's pace of videos; nil before the first one finishes.
    public var etaSeconds: Double? {
        guard done > 0, seconds > 0 else { return nil }
        return Double(total - done) * seconds / Double(done)
    }

    public func bar(width: Int = 30) -> String {
        let filled = total == 0 ? width : min(width, width * done / total)
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + summary
    }

    public var line: String { "progress: " + summary }

    private var summary: String {
        let percent = total == 0 ? 100 : 100 * Double(done) / Double(total)
        let eta = etaSeconds.map(Self.clock) ?? "?"
        return String(format: "%d/%d videos (%.1f%%)  %d failed  %.2f clips/s  ETA %@", done, total, percent, failed, clipsPerSecond, eta)
    }

    /// `75` -> `1:15`, `3725` -> `1:02:05`.
    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
