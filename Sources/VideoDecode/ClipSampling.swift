/// Which instants of a video make up each clip: torchvision's video classification recipe of 16 consecutive
/// frames on a 15 fps grid.
///
/// - A clip starting at s samples the grid times t_k = s + k/15, k = 0..<16.
/// - N clips start spread evenly over [0, max(0, D - 16/15)]: for N = 1 the centre, max(0, D - 16/15) / 2;
///   for N >= 2, s_i = i * max(0, D - 16/15) / (N - 1).
/// - The frame for t_k is the last decoded frame whose time is <= t_k (the first frame if there is none), so a
///   video shorter than a clip repeats its last frame. "<=" holds within `tieTolerance`: a grid time that equals a
///   frame's time in exact arithmetic (every third at 10 fps) comes out of Double an ulp either side of it.
public enum ClipSampling {
    public static let framesPerClip = ClipSpec.kinetics.frames
    public static let gridRate = ClipSpec.kinetics.frameRate
    public static var clipSeconds: Double { ClipSpec.kinetics.seconds }
    /// Far below any frame period, far above the rounding of times in seconds.
    public static let tieTolerance = 1e-6

    /// Start times of `count` clips over a video of `duration` seconds.
    public static func clipStarts(duration: Double, count: Int) -> [Double] {
        precondition(count >= 1)
        let span = max(0, duration - clipSeconds)
        if count == 1 { return [span / 2] }
        return (0..<count).map { Double($0) * span / Double(count - 1) }
    }

    /// The 16 grid times of a clip starting at `start`.
    public static func gridTimes(start: Double) -> [Double] {
        (0..<framesPerClip).map { start + Double($0) / gridRate }
    }
}

/// Matches decoded frames, in presentation order, to the grid times they answer.
///
/// A candidate frame with time c answers every query t with c <= t < n, where n is the next frame's time (both
/// within `ClipSampling.tieTolerance`); the last frame answers every query left at the end.
struct FrameSelector {
    /// (time, slot) in ascending time.
    private let queries: [(time: Double, slot: Int)]
    private var next = 0

    init(queries: [(time: Double, slot: Int)]) {
        self.queries = queries.sorted { ($0.time, $0.slot) < ($1.time, $1.slot) }
    }

    var isDone: Bool { next == queries.count }
    var nextQueryTime: Double? { isDone ? nil : queries[next].time }

    /// The slots answered by the frame held so far, now that a frame at `time` has arrived.
    mutating func slotsBefore(_ time: Double) -> [Int] {
        var slots: [Int] = []
        while next < queries.count && queries[next].time + ClipSampling.tieTolerance < time {
            slots.append(queries[next].slot)
            next += 1
        }
        return slots
    }

    /// Every slot not answered yet: the last frame's at the end of the stream.
    mutating func remainingSlots() -> [Int] {
        defer { next = queries.count }
        return queries[next...].map(\.slot)
    }
}
