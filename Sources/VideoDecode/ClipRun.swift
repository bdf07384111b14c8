import CFFmpeg
import Foundation

/// One pass over a video: the demuxer, the frames held between runs of queries, the output being filled.
struct ClipRun {
    let demuxer: Demuxer
    let limits: DecodeLimits
    private let deadline: Deadline
    private let writer: FrameWriter
    private(set) var info: VideoInfo
    var frameTimes: [[Double]] = []
    var decodedFrames = 0
    /// Frames decoded against `limits.maxDecodedFrames`, shared by the runs of one request.
    let budget: FrameBudget
    private let frameOwner: Frame
    private let candidateOwner: Frame
    var frame: UnsafeMutablePointer<AVFrame> { frameOwner.frame }
    var candidate: UnsafeMutablePointer<AVFrame> { candidateOwner.frame }
    /// The time of the frame in `candidate`: the last one at or before every query answered so far.
    private var candidateTime: Double?
    /// The time of the frame in `frame` when it was decoded but not yet compared with queries: the frame after
    /// the last answered query, which a later run that continues without a seek needs first.
    private var pendingTime: Double?
    /// Timed by order: the own timestamps of the corrupt frames out since the last seek, before any other, an open
    /// GOP's leading pictures among them (`frameTime`); the last `maxLeadingPictures` only.
    private var corruptSinceSeek: [Int64] = []
    /// H.264 holds at most 16 frames back for reordering, and leading pictures are held back until their key frame.
    static let maxLeadingPictures = 16
    /// The time of the last frame decoded, and whether nothing has been decoded since the start.
    private var position = 0.0
    private var atStart = true
    /// Whether a `decode` call is the pass's last, after which the decoder may stop early (a walk goes on).
    var drainsAtEnd = true
    /// Whether `plan` has told the demuxer every query time of the pass.
    private var planned = false
    /// Whether the decoder may drop non-reference frames no query needs, seeks wherever a keyframe saves work, and
    /// the demuxer probes no more than it uses: the same frames and pixels, for less decoding.
    private let usesShortcuts: Bool
    /// How far a seek that landed late steps back before decoding from the start: longer than any group of
    /// pictures an encoder makes by default (x264's 250 frames at 10 fps).
    static let longestStepBack = 32.0

    /// - Parameter scanned: a scan's index of the same bytes (`Demuxer.index`), for a second run over them.
    init(_ bytes: Data, limits: DecodeLimits, usesShortcuts: Bool, budget: FrameBudget? = nil, scanned: PacketIndex? = nil) throws {
        self.usesShortcuts = usesShortcuts
        self.budget = budget ?? FrameBudget(limit: limits.maxDecodedFrames)
        let deadline = Deadline(seconds: limits.deadlineSeconds)
        self.deadline = deadline
        demuxer = try Demuxer(bytes, limits: limits, deadline: deadline, scanned: scanned, probesLeast: usesShortcuts)
        self.limits = limits
        frameOwner = try Frame()
        candidateOwner = try Frame()
        // With threads to spare, frames are converted while the next ones decode.
        writer = try FrameWriter(limits: limits, rotation: demuxer.info.rotation, concurrent: limits.decoderThreads != 1)
        info = demuxer.info
        // Without a known duration the clips cannot be placed before decoding: read every frame's time first.
        if !demuxer.hasDuration {
            func rewind() throws {
                guard demuxer.seek(to: 0) else { throw DecodeError.nothingDecodable(detail: "cannot rewind a stream without duration") }
            }
            let fromPackets = try demuxer.durationFromPackets(deadline: deadline)
            try rewind()
            if let fromPackets {
                info.durationSeconds = fromPackets
            } else {
                info.durationSeconds = try measureDuration()
                try rewind()
            }
            self.budget.restart()
        }
    }

    /// A fresh deadline and frame budget for the next clips.
    mutating func restartBudget() {
        deadline.restart()
        budget.restart()
    }

    /// Every query time of this pass, ascending, `decode` calls to come included: a dropped frame is one none of
    /// them needs.
    mutating func plan(starts: [Double], window: Range<Double>? = nil) {
        planned = true
        guard usesShortcuts else { return }
        let times = starts.flatMap(ClipSampling.gridTimes(start:)).filter { window?.contains($0) ?? true }.sorted()
        demuxer.unneeded = { from, to in
            // The frame at `from` answers a query t when from <= t + tolerance < the next frame's time.
            var low = 0, high = times.count
            while low < high {
                let middle = (low + high) / 2
                if times[middle] >= from - ClipSampling.tieTolerance { high = middle } else { low = middle + 1 }
            }
            return low == times.count || times[low] >= to - ClipSampling.tieTolerance
        }
    }

    /// - Parameter window: answer only the grid times in it; the other slots stay zero.
    mutating func decode(starts: [Double], window: Range<Double>? = nil) throws -> DecodedClips {
        if !planned { plan(starts: starts, window: window) }
        let clips = starts.count
        writer.begin(clips: clips)
        frameTimes = Array(repeating: Array(repeating: 0, count: ClipSampling.framesPerClip), count: clips)
        let firstFrame = decodedFrames
        var queries: [(time: Double, slot: Int)] = []
        for (clip, start) in starts.enumerated() {
            for (k, t) in ClipSampling.gridTimes(start: start).enumerated() where window?.contains(t) ?? true {
                queries.append((t, clip * ClipSampling.framesPerClip + k))
            }
        }
        queries.sort { $0.time < $1.time }
        // Runs of queries to decode straight through: a run ends before a keyframe or a long gap, where a seek may
        // save work.
        var runs: [[(time: Double, slot: Int)]] = []
        for q in queries {
            if let last = runs.last?.last, q.time - last.time <= ClipDecoder.seekGapSeconds,
               indexedKeyframe(atOrBefore: q.time).map({ $0 <= last.time }) ?? true {
                runs[runs.count - 1].append(q)
            } else {
                runs.append([q])
            }
        }
        for (index, run) in runs.enumerated() {
            // After the last query of a pass nothing is wanted: the decoder may be drained there.
            demuxer.drainAfter = drainsAtEnd && usesShortcuts && index == runs.count - 1
                ? run[run.count - 1].time + ClipSampling.tieTolerance : nil
            do {
                try answer(run, mustSeek: false)
            } catch is DroppedFrameMismatch {
                // A dropped frame may have been needed after all: this run again, every frame decoded.
                demuxer.unneeded = nil
                try answer(run, mustSeek: true)
            }
            atStart = false
        }
        let spans = starts.map { ClipSpan(start_s: $0, end_s: $0 + ClipSampling.clipSeconds) }
        return DecodedClips(values: try writer.finish(), clipCount: clips, info: info, frameTimes: frameTimes, spans: spans,
                            decodedFrames: decodedFrames - firstFrame)
    }

    /// Decodes the frames for one run of queries, seeking first unless decoding on from here is cheaper.
    private mutating func answer(_ run: [(time: Double, slot: Int)], mustSeek: Bool) throws {
        let first = run[0].time
        // Where decoding would go on from, if the frames held can still answer this run.
        let here: Double? = atStart ? 0 : candidateTime.flatMap { first >= $0 ? position : nil }
        var shouldSeek = true
        if let here, !mustSeek {
            // With an index, seek only when a keyframe lies between here and the run; else by distance.
            if let keyframe = indexedKeyframe(atOrBefore: first) {
                shouldSeek = keyframe - here > ClipDecoder.seekSavingSeconds
            } else {
                shouldSeek = first - here > ClipDecoder.seekGapSeconds
            }
        }
        var seeked = false
        if shouldSeek {
            seeked = demuxer.seek(to: first)
            if seeked {
                forgetFrames()
            } else if mustSeek || here == nil {
                // Declined, and the frames held cannot answer the run (they are past its first query): from the start.
                guard demuxer.seek(to: 0) else { throw DecodeError.nothingDecodable(detail: "cannot seek") }
                forgetFrames()
            }
        }
        var selector = FrameSelector(queries: run)
        guard try !decodeRun(&selector, seeked: seeked) && seeked else { return }
        // The seek landed after the first query. A keyframe flag says where decoding may start, not always where
        // frames come out: an intra-refresh recovery point shows its first frame a refresh later. So the keyframe
        // before it; then, as an index that marks every frame a keyframe (an AVI cut before its index) lets a seek
        // land anywhere in a group of pictures, 1, 2, 4 ... 32 s back; then the start (some containers seek
        // imprecisely). A place whose keyframe the index knows is tried once.
        var retries: [Double] = []
        if let keyframe = indexedKeyframe(atOrBefore: first), let earlier = indexedKeyframe(atOrBefore: keyframe - 1e-3) {
            retries.append(earlier)
        }
        var step = 1.0
        while step <= Self.longestStepBack, first - step > 0 {
            retries.append(first - step)
            step *= 2
        }
        var tried: Set<Double> = indexedKeyframe(atOrBefore: first).map { [$0] } ?? []
        for time in retries where time > 0 {
            if let keyframe = indexedKeyframe(atOrBefore: time), !tried.insert(keyframe).inserted { continue }
            guard demuxer.seek(to: time) else { continue }
            forgetFrames()
            selector = FrameSelector(queries: run)
            if try decodeRun(&selector, seeked: true) { return }
        }
        guard demuxer.seek(to: 0) else { throw DecodeError.nothingDecodable(detail: "cannot seek") }
        forgetFrames()
        selector = FrameSelector(queries: run)
        _ = try decodeRun(&selector, seeked: false)
    }

    /// Splits the grid times of `starts` into stretches of time that can each be decoded on their own, with the
    /// same frames: a stretch begins where a keyframe (by the index) follows the previous grid time, or where
    /// the gap to it is long enough for `answer` to seek.
    /// - Returns: the stretches in ascending order, with an estimate of each one's decoding in seconds of video.
    func independentStretches(_ starts: [Double]) -> [(window: Range<Double>, work: Double)] {
        let times = starts.flatMap(ClipSampling.gridTimes(start:)).sorted()
        var stretches: [(window: Range<Double>, work: Double)] = []
        var first = times[0], from = indexedKeyframe(atOrBefore: first) ?? 0
        for (previous, time) in zip(times, times.dropFirst()) {
            let keyframe = indexedKeyframe(atOrBefore: time)
            guard keyframe.map({ $0 > previous + ClipSampling.tieTolerance }) ?? (time - previous > ClipDecoder.seekGapSeconds) else { continue }
            stretches.append((first..<time, previous - from))
            first = time
            from = keyframe ?? time
        }
        stretches.append((first..<Double.infinity, times[times.count - 1] - from))
        stretches[0].window = -Double.infinity..<stretches[0].window.upperBound
        return stretches
    }

    private func indexedKeyframe(atOrBefore time: Double) -> Double? {
        usesShortcuts ? demuxer.indexedKeyframe(atOrBefore: time) : nil
    }

    /// After a seek the frames held belong to another part of the video.
    private mutating func forgetFrames() {
        av_frame_unref(candidate)
        av_frame_unref(frame)
        candidateTime = nil
        pendingTime = nil
        corruptSinceSeek = []
    }

    /// Decodes until every query of the run is answered.
    /// - Returns: false if a seek landed after the run's first query or found no frame (the caller rewinds and
    ///   retries).
    private mutating func decodeRun(_ selector: inout FrameSelector, seeked: Bool) throws -> Bool {
        while !selector.isDone {
            let time: Double
            if let pending = pendingTime {
                time = pending
                pendingTime = nil
            } else {
                guard try demuxer.decodeNext(into: frame, deadline: deadline) else { break }
                // Timed by order, frames that do not decode after a seek come out only to be counted: they spend no
                // budget, as they did not when FFmpeg held them back.
                if demuxer.timesByOrder, frame.pointee.flags & AV_FRAME_FLAG_CORRUPT != 0 {
                    if candidateTime == nil {
                        corruptSinceSeek.append(frame.pointee.pts)
                        if corruptSinceSeek.count > Self.maxLeadingPictures { corruptSinceSeek.removeFirst() }
                    }
                    continue
                }
                decodedFrames += 1
                try budget.spend()
                time = frameTime(frame, previous: candidateTime)
                position = time
            }
            if candidateTime == nil {
                if seeked, let first = selector.nextQueryTime, time > first + ClipSampling.tieTolerance, first > 0 { return false }
                // Timed by order, only a key frame shows at its own time; step back to one.
                if seeked, demuxer.timesByOrder, frame.pointee.key_frame == 0 { return false }
            } else {
                let slots = selector.slotsBefore(time)
                if !slots.isEmpty { try emit(candidate, time: candidateTime!, slots: slots) }
                // Done: this frame is the next run's first to compare, if that run goes on without a seek.
                if selector.isDone {
                    pendingTime = time
                    return true
                }
            }
            av_frame_unref(candidate)
            av_frame_move_ref(candidate, frame)
            candidateTime = time
        }
        if !selector.isDone {
            guard let time = candidateTime else {
                // A seek that found nothing to decode is retried from the start, as one that landed too late.
                if seeked { return false }
                throw DecodeError.nothingDecodable(detail: "the video stream gave no frame")
            }
            try emit(candidate, time: time, slots: selector.remainingSlots())
        }
        return true
    }

    /// A frame's time: its best-effort timestamp, or the previous frame's time plus one frame period. A stream timed
    /// by decode order (`Demuxer.timesByOrder`) uses its frames' own `pts`, not the best effort, which turns to the
    /// packet that made a frame come out once the reordered times look faulty.
    private func frameTime(_ frame: UnsafeMutablePointer<AVFrame>, previous: Double?) -> Double {
        let period = demuxer.info.fps > 0 ? 1 / demuxer.info.fps : 1 / ClipSampling.gridRate
        if demuxer.timesByOrder {
            let own = frame.pointee.pts == noTimestamp ? nil : demuxer.seconds(frame.pointee.pts)
            if let previous {
                // In AVI a frame's own time is its index, and no frame is shown more than the reorder delay before
                // it: a frame lost (a dropped-frame chunk, a packet that did not decode) moves the rest on. (ASF's
                // times are FFmpeg's, not bound that way.)
                guard demuxer.info.container == "avi", let own else { return previous + period }
                return max(previous + period, own - Double(demuxer.reorderDelay) * period)
            }
            // A key frame shows after the leading pictures decoded after it, which came out before it.
            if let own {
                let leading = corruptSinceSeek.filter { $0 != noTimestamp && $0 > frame.pointee.pts }.count
                return own + Double(leading) * period
            }
        }
        let timestamp = frame.pointee.best_effort_timestamp
        if timestamp != noTimestamp { return demuxer.seconds(timestamp) }
        return previous.map { $0 + period } ?? 0
    }

    /// Transforms one frame once and writes it to every slot it answers.
    private mutating func emit(_ frame: UnsafeMutablePointer<AVFrame>, time: Double, slots: [Int]) throws {
        try writer.write(frame, slots: slots)
        let frames = ClipSampling.framesPerClip
        for slot in slots { frameTimes[slot / frames][slot % frames] = time }
    }

    /// Decodes every frame to find the duration: last frame time plus one frame period. Only for streams whose
    /// packets do not all carry a presentation time (`Demuxer.durationFromPackets`).
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

/// The frames one request may decode, counted across the runs that decode its clips in parallel.
final class FrameBudget: @unchecked Sendable {
    let limit: Int
    private var used = 0
    private let lock = NSLock()

    init(limit: Int) { self.limit = limit }

    /// Counts one frame.
    /// - Throws: `DecodeError.tooManyFrames` past the limit.
    func spend() throws {
        lock.lock()
        used += 1
        let over = used > limit
        lock.unlock()
        if over { throw DecodeError.tooManyFrames(limit: limit) }
    }

    func restart() {
        lock.lock()
        used = 0
        lock.unlock()
    }
}
