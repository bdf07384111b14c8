import VideoDecode

/// What a timeline is asked for: windows of `windowSeconds` every `strideSeconds` over [start, end], and how
/// windows merge into segments.
public struct TimelineOptions: Sendable, Equatable {
    public var windowSeconds = ClipSpec.kinetics.seconds
    /// nil: the window, so windows tile the video.
    public var strideSeconds: Double?
    public var startSeconds = 0.0
    /// nil: the end of the video.
    public var endSeconds: Double?
    /// A window's top label joins a segment only at this probability or more.
    public var threshold = 0.5
    /// Shorter segments are dropped as flicker.
    public var minSegmentSeconds = 0.0
    public var topK = 5

    public init() {}

    public var stride: Double { strideSeconds ?? windowSeconds }

    /// - Throws: `ServiceError.badParameter` naming the option.
    public func validate() throws {
        guard windowSeconds > 0, windowSeconds <= 600 else { throw ServiceError.badParameter("window_s must be above 0 and at most 600") }
        guard stride >= 0.1 else { throw ServiceError.badParameter("stride_s must be at least 0.1") }
        guard startSeconds >= 0, (endSeconds ?? .infinity) > startSeconds else {
            throw ServiceError.badParameter("start_s must be at least 0 and below end_s")
        }
        guard (0...1).contains(threshold) else { throw ServiceError.badParameter("threshold must be from 0 to 1") }
        guard minSegmentSeconds >= 0 else { throw ServiceError.badParameter("min_segment_s must be at least 0") }
    }

    /// The options named as the API names them (`window_s`, `stride_s`, `start_s`, `end_s`, `threshold`,
    /// `min_segment_s`), each read by `number` (nil when absent), then validated.
    /// - Throws: what `number` throws; `ServiceError.badParameter` for values out of range.
    init(topK: Int, number: (String) throws -> Double?) throws {
        self.topK = topK
        if let window = try number("window_s") { windowSeconds = window }
        strideSeconds = try number("stride_s")
        startSeconds = try number("start_s") ?? 0
        endSeconds = try number("end_s")
        if let threshold = try number("threshold") { self.threshold = threshold }
        if let minimum = try number("min_segment_s") { minSegmentSeconds = minimum }
        try validate()
    }

    /// Where the windows fall.
    public var grid: WindowGrid {
        WindowGrid(windowSeconds: windowSeconds, strideSeconds: stride, startSeconds: startSeconds, endSeconds: endSeconds)
    }
}

/// A timeline's answer: each window's top-k, and runs of windows with the same confident top label.
public struct Timeline: Sendable, Encodable {
    public struct Window: Sendable, Encodable, Equatable {
        public var index: Int
        /// The times of the first and last frames the window sampled (the frames' own timestamps).
        public var start_s: Double
        public var end_s: Double
        public var predictions: [Classification.Prediction]
    }

    public struct Segment: Sendable, Encodable, Equatable {
        public var label: String
        public var index: Int
        public var start_s: Double
        public var end_s: Double
        /// The mean over the segment's windows of the label's probability.
        public var score: Double
    }

    /// Consecutive windows whose top label is the same and at least `threshold`, merged; segments shorter than
    /// `minSeconds` dropped.
    public static func segments(_ windows: [Window], threshold: Double, minSeconds: Double) -> [Segment] {
        var segments: [Segment] = []
        var open: (segment: Segment, windows: Int, sum: Double)?
        func close() {
            if let o = open, o.segment.end_s - o.segment.start_s >= minSeconds {
                var s = o.segment
                s.score = o.sum / Double(o.windows)
                segments.append(s)
            }
            open = nil
        }
        for window in windows {
            guard let top = window.predictions.first, top.score >= threshold else {
                close()
                continue
            }
            if let o = open, o.segment.index == top.index {
                open!.segment.end_s = max(o.segment.end_s, window.end_s)
                open!.windows += 1
                open!.sum += top.score
            } else {
                close()
                open = (Segment(label: top.label, index: top.index, start_s: window.start_s, end_s: window.end_s, score: top.score),
                        1, top.score)
            }
        }
        close()
        return segments
    }
}

/// A timeline as its windows arrive, chunk by chunk: each window's top-k, and the sum of their softmax for the
/// video-level answer.
struct TimelineBuilder {
    let labels: Labels
    let topK: Int
    private(set) var windows: [Timeline.Window] = []
    private var spans: [ClipSpan] = []
    private var sum: [Double] = []

    init(labels: Labels, topK: Int) {
        self.labels = labels
        self.topK = topK
    }

    /// Adds a chunk's windows, one per clip, in order.
    /// - Returns: the windows added.
    mutating func add(_ logits: [[Float]], of clips: DecodedClips) -> [Timeline.Window] {
        precondition(logits.count == clips.clipCount)
        let first = windows.count
        for (i, row) in logits.enumerated() {
            let probabilities = Classification.softmax(row)
            if sum.isEmpty { sum = [Double](repeating: 0, count: probabilities.count) }
            for c in 0..<probabilities.count { sum[c] += probabilities[c] }
            let times = clips.frameTimes[i]
            windows.append(Timeline.Window(index: windows.count, start_s: times.first ?? 0, end_s: times.last ?? 0,
                                           predictions: Classification.predictions(probabilities: probabilities, labels: labels, topK: topK)))
            spans.append(clips.spans[i])
        }
        return Array(windows[first...])
    }

    /// The whole answer: the mean softmax's top-k, every window, and the segments they merge into.
    func answer(info: VideoInfo, model: ModelInfo, timing: Classification.Timing, options: TimelineOptions) -> Classification {
        let mean = sum.map { $0 / Double(max(1, windows.count)) }
        var answer = Classification(predictions: Classification.predictions(probabilities: mean, labels: labels, topK: topK),
                                    clips: spans, info: info, model: model, timing: timing)
        answer.timeline = windows
        answer.segments = Timeline.segments(windows, threshold: options.threshold, minSeconds: options.minSegmentSeconds)
        return answer
    }
}
