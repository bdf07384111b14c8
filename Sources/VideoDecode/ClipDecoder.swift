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
    /// Query times further apart than this are reached by seeking rather than by decoding through the gap.
    static let seekGapSeconds = 1.5

    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - clips: how many clips to sample (>= 1), spread as `ClipSampling` says.
    /// - Throws: `DecodeError` (every case).
    public static func decode(_ bytes: Data, clips: Int, limits: DecodeLimits = .default) throws -> DecodedClips {
        precondition(clips >= 1)
        let deadline = Deadline(seconds: limits.deadlineSeconds)
        let demuxer = try Demuxer(bytes, limits: limits, deadline: deadline)
        var run = try ClipRun(demuxer: demuxer, clips: clips, limits: limits, deadline: deadline)
        return try run.decode()
    }
}

/// One decode: the queries, the frames held, the output being filled.
private struct ClipRun {
    let demuxer: Demuxer
    let clips: Int
    let limits: DecodeLimits
    let deadline: Deadline
    let converter: RGBConverter
    var transform: TorchvisionTransform?
    var values: [Float]
    var frameTimes: [[Double]]
    var decodedFrames = 0
    private let frameOwner: Frame
    private let candidateOwner: Frame
    var frame: UnsafeMutablePointer<AVFrame> { frameOwner.frame }
    var candidate: UnsafeMutablePointer<AVFrame> { candidateOwner.frame }

    static let planeSize = TorchvisionTransform.crop * TorchvisionTransform.crop

    init(demuxer: Demuxer, clips: Int, limits: DecodeLimits, deadline: Deadline) throws {
        self.demuxer = demuxer
        self.clips = clips
        self.limits = limits
        self.deadline = deadline
        frameOwner = try Frame()
        candidateOwner = try Frame()
        converter = try RGBConverter()
        values = [Float](repeating: 0, count: clips * ClipSpec.kinetics.elementCount)
        frameTimes = Array(repeating: Array(repeating: 0, count: ClipSampling.framesPerClip), count: clips)
    }

    mutating func decode() throws -> DecodedClips {
        var info = demuxer.info
        // Without a known duration the clips cannot be placed before decoding: read every frame's time first.
        if !demuxer.hasDuration {
            info.durationSeconds = try measureDuration()
            guard demuxer.seek(to: 0) else { throw DecodeError.nothingDecodable(detail: "cannot rewind a stream without duration") }
        }
        let starts = ClipSampling.clipStarts(duration: info.durationSeconds, count: clips)
        var queries: [(time: Double, slot: Int)] = []
        for (clip, start) in starts.enumerated() {
            for (k, t) in ClipSampling.gridTimes(start: start).enumerated() { queries.append((t, clip * ClipSampling.framesPerClip + k)) }
        }
        queries.sort { $0.time < $1.time }
        // Runs of queries close enough to decode straight through; a new run seeks.
        var runs: [[(time: Double, slot: Int)]] = []
        for q in queries {
            if let last = runs.last?.last, q.time - last.time <= ClipDecoder.seekGapSeconds {
                runs[runs.count - 1].append(q)
            } else {
                runs.append([q])
            }
        }
        var position = 0.0  // time of the last frame decoded so far
        var atStart = true
        for run in runs {
            let first = run[0].time
            var seeked = false
            if !(atStart && first <= ClipDecoder.seekGapSeconds) && !(first > position && first - position <= ClipDecoder.seekGapSeconds) {
                seeked = demuxer.seek(to: first)
            }
            var selector = FrameSelector(queries: run)
            if try !decodeRun(&selector, seeked: seeked, position: &position) && seeked {
                // The seek landed after the first query (some containers seek imprecisely): decode from the start.
                guard demuxer.seek(to: 0) else { throw DecodeError.nothingDecodable(detail: "cannot seek") }
                selector = FrameSelector(queries: run)
                _ = try decodeRun(&selector, seeked: false, position: &position)
            }
            atStart = false
        }
        let spans = starts.map { ClipSpan(start_s: $0, end_s: $0 + ClipSampling.clipSeconds) }
        return DecodedClips(values: values, clipCount: clips, info: info, frameTimes: frameTimes, spans: spans,
                            decodedFrames: decodedFrames)
    }

    /// Decodes until every query of the run is answered.
    /// - Returns: false if a seek landed after the run's first query (the caller rewinds and retries).
    private mutating func decodeRun(_ selector: inout FrameSelector, seeked: Bool, position: inout Double) throws -> Bool {
        var candidateTime: Double?
        av_frame_unref(candidate)
        while !selector.isDone {
            guard try demuxer.decodeNext(into: frame, deadline: deadline) else { break }
            decodedFrames += 1
            if decodedFrames > limits.maxDecodedFrames { throw DecodeError.tooManyFrames(limit: limits.maxDecodedFrames) }
            let time = frameTime(frame, previous: candidateTime)
            position = time
            if candidateTime == nil {
                if seeked, let first = selector.nextQueryTime, time > first + ClipSampling.tieTolerance, first > 0 { return false }
            } else {
                let slots = selector.slotsBefore(time)
                if !slots.isEmpty { try emit(candidate, time: candidateTime!, slots: slots) }
            }
            av_frame_unref(candidate)
            av_frame_move_ref(candidate, frame)
            candidateTime = time
        }
        if !selector.isDone {
            guard let time = candidateTime else {
                throw DecodeError.nothingDecodable(detail: "the video stream gave no frame")
            }
            try emit(candidate, time: time, slots: selector.remainingSlots())
        }
        return true
    }

    /// A frame's time: its best-effort timestamp, or the previous frame's time plus one frame period.
    private func frameTime(_ frame: UnsafeMutablePointer<AVFrame>, previous: Double?) -> Double {
        let timestamp = frame.pointee.best_effort_timestamp
        if timestamp != noTimestamp { return demuxer.seconds(timestamp) }
        let period = demuxer.info.fps > 0 ? 1 / demuxer.info.fps : 1 / ClipSampling.gridRate
        return previous.map { $0 + period } ?? 0
    }

    /// Transforms one frame once and writes it to every slot it answers.
    private mutating func emit(_ frame: UnsafeMutablePointer<AVFrame>, time: Double, slots: [Int]) throws {
        let rgb = try converter.convert(frame, limits: limits)
        let rotation = demuxer.info.rotation
        let width = Int(frame.pointee.width), height = Int(frame.pointee.height)
        let (displayWidth, displayHeight) = rotation % 180 == 0 ? (width, height) : (height, width)
        if transform?.displayWidth != displayWidth || transform?.displayHeight != displayHeight {
            transform = TorchvisionTransform(displayWidth: displayWidth, displayHeight: displayHeight)
        }
        let frames = ClipSampling.framesPerClip
        values.withUnsafeMutableBufferPointer { out in
            let first = slots[0]
            let base = out.baseAddress! + (first / frames) * 3 * frames * Self.planeSize + (first % frames) * Self.planeSize
            transform!.apply(rgb: rgb, linesize: converter.linesize, rotation: rotation, output: base,
                             planeStride: frames * Self.planeSize)
            for slot in slots.dropFirst() {
                let target = out.baseAddress! + (slot / frames) * 3 * frames * Self.planeSize + (slot % frames) * Self.planeSize
                for c in 0..<3 {
                    (target + c * frames * Self.planeSize).update(from: base + c * frames * Self.planeSize, count: Self.planeSize)
                }
            }
        }
        for slot in slots { frameTimes[slot / frames][slot % frames] = time }
    }

    /// Decodes every frame to find the duration: last frame time plus one frame period.
    private mutating func measureDuration() throws -> Double {
        var last: Double?
        var previous: Double?
        while try demuxer.decodeNext(into: frame, deadline: deadline) {
            decodedFrames += 1
            if decodedFrames > limits.maxDecodedFrames { throw DecodeError.tooManyFrames(limit: limits.maxDecodedFrames) }
            let t = frameTime(frame, previous: previous)
            previous = t
            last = max(last ?? t, t)
            if t > limits.maxDurationSeconds { throw DecodeError.tooLong(seconds: t, limit: limits.maxDurationSeconds) }
        }
        guard let last else { throw DecodeError.nothingDecodable(detail: "the video stream gave no frame") }
        let period = demuxer.info.fps > 0 ? 1 / demuxer.info.fps : 0
        return last + period
    }
}
