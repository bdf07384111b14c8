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

    /// The windows' time ranges over a video of `duration` seconds: from `startSeconds` every `stride` while a
    /// window still starts before the end; the last may be shorter.
    public func windows(duration: Double) -> [ClosedRange<Double>] {
        let end = min(endSeconds ?? duration, duration)
        var ranges: [ClosedRange<Double>] = []
        var k = 0
        while true {
            let a = startSeconds + Double(k) * stride
            guard a < end - 1e-9 else { break }
            ranges.append(a...min(a + windowSeconds, end))
            k += 1
        }
        return ranges
    }

    /// The clip a window is sampled by: the one a single-clip classify restricted to the window's range takes.
    public static func clipStart(_ window: ClosedRange<Double>) -> Double {
        window.lowerBound + ClipSampling.clipStarts(duration: window.upperBound - window.lowerBound, count: 1)[0]
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
