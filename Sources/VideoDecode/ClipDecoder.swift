import CFFmpeg
import Cores
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
        let limits = limits.scaled(forClips: clips)
        let began = DispatchTime.now().uptimeNanoseconds
        var run = try ClipRun(bytes, limits: limits, usesShortcuts: usesShortcuts)
        let duration = run.info.durationSeconds
        let start = min(range?.lowerBound ?? 0, duration), end = min(range?.upperBound ?? duration, duration)
        let starts = ClipSampling.clipStarts(duration: max(0, end - start), count: clips).map { start + $0 }
        let cores = limits.decoderThreads == 0 ? Cores.available : limits.decoderThreads
        // A video without a stated duration, or an AVI without its index, was read once to learn it: no second
        // reader repeats that. One decoded forward only has no stretch a second reader could start at.
        guard usesShortcuts, cores > 1, run.demuxer.hasDuration, !run.demuxer.indexedByReading,
              !run.demuxer.decodesForwardOnly else {
            return try run.decode(starts: starts)
        }
        let stretches = run.independentStretches(starts)
        let total = stretches.reduce(0) { $0 + $1.work }, longest = stretches.map(\.work).max() ?? 0
        // Frame threads decode one stream about 1.3x faster on 2 cores; parallel stretches must beat that with
        // room to spare.
        guard stretches.count > 1, max(longest, total / Double(cores)) * 1.5 < total else { return try run.decode(starts: starts) }
        return try decodeInParallel(bytes, starts: starts, stretches: stretches, threads: cores, limits: limits,
                                    budget: run.budget, began: began, info: run.info, scanned: run.demuxer.index)
    }

    /// Stretches of the video that each begin with a seek, decoded by single-threaded decoders on `threads`
    /// threads, longest first: a seek empties a frame-threaded decoder and restarts it on a keyframe, where
    /// separate decoders keep every core busy.
    private static func decodeInParallel(_ bytes: Data, starts: [Double], stretches: [(window: Range<Double>, work: Double)],
                                         threads: Int, limits: DecodeLimits, budget: FrameBudget, began: UInt64,
                                         info: VideoInfo, scanned: PacketIndex?) throws -> DecodedClips {
        let order = stretches.indices.sorted { stretches[$0].work > stretches[$1].work }
        let output = ParallelOutput(starts: starts)
        Cores.forEach(order.count, workers: threads) { i in
            let window = stretches[order[i]].window
            var single = limits
            single.decoderThreads = 1
            single.deadlineSeconds = limits.deadlineSeconds - Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
            do {
                guard single.deadlineSeconds > 0 else { throw DecodeError.deadlineExceeded(seconds: limits.deadlineSeconds) }
                // The first run's scan of an MPEG-TS or MPEG-PS file (20-44 ms on 60 MB) serves every stretch.
                var run = try ClipRun(bytes, limits: single, usesShortcuts: true, budget: budget, scanned: scanned)
                output.absorb(try run.decode(starts: starts, window: window), window: window)
            } catch {
                output.fail(error, stretch: order[i])
            }
        }
        return try output.result(info: info)
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
        run.drainsAtEnd = false
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

/// The clips being filled by parallel decoders, each writing the slots of its stretch of time.
private final class ParallelOutput: @unchecked Sendable {
    private let starts: [Double]
    private var values: [Float]
    private var frameTimes: [[Double]]
    private var decodedFrames = 0
    /// The failure of the earliest stretch that failed.
    private var failure: (stretch: Int, error: Error)?
    private let lock = NSLock()

    init(starts: [Double]) {
        self.starts = starts
        values = [Float](repeating: 0, count: starts.count * ClipSpec.kinetics.elementCount)
        frameTimes = Array(repeating: Array(repeating: 0, count: ClipSampling.framesPerClip), count: starts.count)
    }

    /// Copies the slots whose grid times lie in `window`.
    func absorb(_ part: DecodedClips, window: Range<Double>) {
        let frames = ClipSampling.framesPerClip, plane = ClipSpec.kinetics.crop * ClipSpec.kinetics.crop
        lock.lock()
        defer { lock.unlock() }
        for (clip, start) in starts.enumerated() {
            for (k, t) in ClipSampling.gridTimes(start: start).enumerated() where window.contains(t) {
                frameTimes[clip][k] = part.frameTimes[clip][k]
                for c in 0..<3 {
                    let at = ((clip * 3 + c) * frames + k) * plane
                    values.replaceSubrange(at..<at + plane, with: part.values[at..<at + plane])
                }
            }
        }
        decodedFrames += part.decodedFrames
    }

    func fail(_ error: Error, stretch: Int) {
        lock.lock()
        defer { lock.unlock() }
        if failure.map({ stretch < $0.stretch }) ?? true { failure = (stretch, error) }
    }

    func result(info: VideoInfo) throws -> DecodedClips {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure.error }
        let spans = starts.map { ClipSpan(start_s: $0, end_s: $0 + ClipSampling.clipSeconds) }
        return DecodedClips(values: values, clipCount: starts.count, info: info, frameTimes: frameTimes, spans: spans,
                            decodedFrames: decodedFrames)
    }
}
