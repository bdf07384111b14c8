import CFFmpeg
import Foundation

/// Clips ready for the network, with where they came from.
public struct DecodedClips: Sendable {
    /// Float32 in (N, 3, 16, 112, 112) order: torchvision's preset applied.
    public var values: [Float]
    public var clipCount: Int
    public var info: VideoInfo
    /// For each clip, the 16 sampled frames' own times in seconds (from the stream's first timestamp).
    public var frameTimes: [[Double]]
    /// For each clip, the stretch of the video it stands for: its grid's start and end.
    public var spans: [ClipSpan]
    /// Frames the decoder produced to make these clips.
    public var decodedFrames: Int

    public var shape: [Int] { [clipCount] + ClipSpec.kinetics.shape }

    public init(values: [Float], clipCount: Int, info: VideoInfo, frameTimes: [[Double]], spans: [ClipSpan], decodedFrames: Int) {
        precondition(values.count == clipCount * ClipSpec.kinetics.elementCount && frameTimes.count == clipCount && spans.count == clipCount)
        self.values = values
        self.clipCount = clipCount
        self.info = info
        self.frameTimes = frameTimes
        self.spans = spans
        self.decodedFrames = decodedFrames
    }
}

/// Where a clip sits in its video, in seconds from the stream's first timestamp.
public struct ClipSpan: Sendable, Equatable, Encodable {
    public var start_s: Double
    public var end_s: Double

    public init(start_s: Double, end_s: Double) {
        self.start_s = start_s
        self.end_s = end_s
    }
}

/// Bytes of an uploaded video in memory -> clip tensors. The only entry point of this module.
public enum ClipDecoder {
    /// Without a keyframe index, query times further apart than this are reached by seeking rather than by
    /// decoding through the gap.
    static let seekGapSeconds = 1.5
    /// With an index, a seek must pass over more than this: it empties the decoder's threads of frames under way.
    static let seekSavingSeconds = 0.2

    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - clips: how many clips to sample (>= 1), spread as `ClipSampling` says over the video, or over `range`
    ///     (seconds; clipped to the video) as if the video were only that.
    /// - Throws: `DecodeError` (every case).
    public static func decode(_ bytes: Data, clips: Int, range: ClosedRange<Double>? = nil,
                              limits: DecodeLimits = .default) throws -> DecodedClips {
        try decode(bytes, clips: clips, range: range, limits: limits, usesShortcuts: true)
    }

    /// `usesShortcuts: false` decodes every frame on the way and seeks only over long gaps: the plain way, which
    /// dropping frames and seeking by the keyframe index must equal.
    static func decode(_ bytes: Data, clips: Int, range: ClosedRange<Double>? = nil, limits: DecodeLimits,
                       usesShortcuts: Bool) throws -> DecodedClips {
        precondition(clips >= 1)
        let began = DispatchTime.now().uptimeNanoseconds
        var run = try ClipRun(bytes, limits: limits, usesShortcuts: usesShortcuts)
        let duration = run.info.durationSeconds
        let start = min(range?.lowerBound ?? 0, duration), end = min(range?.upperBound ?? duration, duration)
        let starts = ClipSampling.clipStarts(duration: max(0, end - start), count: clips).map { start + $0 }
        let groups = run.independentGroups(starts)
        // A video without a stated duration was read once to learn it: no second reader repeats that.
        guard usesShortcuts, limits.decoderThreads != 1, groups.count > 1, run.demuxer.hasDuration else {
            return try run.decode(starts: starts)
        }
        return try decodeInParallel(bytes, groups: groups, limits: limits, budget: run.budget, began: began, info: run.info)
    }

    /// Groups of clips that each begin with a seek, decoded at once by single-threaded decoders: a seek empties
    /// a frame-threaded decoder and restarts it on a keyframe, where separate decoders keep every core busy.
    private static func decodeInParallel(_ bytes: Data, groups: [[Double]], limits: DecodeLimits, budget: FrameBudget,
                                         began: UInt64, info: VideoInfo) throws -> DecodedClips {
        let results = GroupResults(count: groups.count)
        DispatchQueue.concurrentPerform(iterations: groups.count) { i in
            var single = limits
            single.decoderThreads = 1
            single.deadlineSeconds = limits.deadlineSeconds - Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
            results.set(i, Result {
                guard single.deadlineSeconds > 0 else { throw DecodeError.deadlineExceeded(seconds: limits.deadlineSeconds) }
                var run = try ClipRun(bytes, limits: single, usesShortcuts: true, budget: budget)
                return try run.decode(starts: groups[i])
            })
        }
        let parts = try results.all.map { try $0!.get() }
        return DecodedClips(values: parts.flatMap(\.values), clipCount: parts.reduce(0) { $0 + $1.clipCount }, info: info,
                            frameTimes: parts.flatMap(\.frameTimes), spans: parts.flatMap(\.spans),
                            decodedFrames: parts.reduce(0) { $0 + $1.decodedFrames })
    }

    /// Decodes the clips of many windows walking the video forward once, `chunk` clips at a time, so memory
    /// holds one chunk whatever the video's length. Each chunk's decode has the whole of `limits` (deadline,
    /// frames) to itself.
    /// - Parameters:
    ///   - starts: called once with the video's duration; returns every clip's start time, ascending.
    ///   - body: gets each chunk as it is decoded; returning false stops the walk.
    /// - Returns: the video's metadata.
    /// - Throws: `DecodeError`, or what `body` throws.
    @discardableResult
    public static func walk(_ bytes: Data, chunk: Int, limits: DecodeLimits = .default, starts: (Double) -> [Double],
                            body: (DecodedClips) throws -> Bool) throws -> VideoInfo {
        try walk(bytes, chunk: chunk, limits: limits, usesShortcuts: true, starts: starts, body: body)
    }

    @discardableResult
    static func walk(_ bytes: Data, chunk: Int, limits: DecodeLimits = .default, usesShortcuts: Bool,
                     starts: (Double) -> [Double], body: (DecodedClips) throws -> Bool) throws -> VideoInfo {
        precondition(chunk >= 1)
        var run = try ClipRun(bytes, limits: limits, usesShortcuts: usesShortcuts)
        let all = starts(run.info.durationSeconds)
        run.plan(starts: all)
        var next = 0
        while next < all.count {
            let slice = Array(all[next..<min(all.count, next + chunk)])
            run.restartBudget()
            guard try body(run.decode(starts: slice)) else { break }
            next += slice.count
        }
        return run.info
    }
}

/// Each parallel group's outcome, written by the thread that decoded it.
private final class GroupResults: @unchecked Sendable {
    private var results: [Result<DecodedClips, Error>?]
    private let lock = NSLock()

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Result<DecodedClips, Error>) {
        lock.lock()
        results[index] = result
        lock.unlock()
    }

    var all: [Result<DecodedClips, Error>?] {
        lock.lock()
        defer { lock.unlock() }
        return results
    }
}
