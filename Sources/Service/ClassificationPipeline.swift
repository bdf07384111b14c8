import Foundation
import Synchronization
import R2Plus1D
import VideoDecode

/// Decode, then forward, then the video-level answer: the one path from an upload to its `Classification`,
/// used by `serve` (decode pool and batch scheduler) and by `classify` (both in-process).
public struct ClassificationPipeline: Sendable {
    /// An encoded video, a clip count and an optional time range in, sampled clips out.
    public typealias Decode = @Sendable (_ video: Data, _ clips: Int, _ range: ClosedRange<Double>?) async throws -> DecodedClips
    /// Clips in, logits out, within `deadlineSeconds`; `isCancelled` says nobody waits any more.
    public typealias Forward = @Sendable (_ clips: DecodedClips, _ deadlineSeconds: Double,
                                          _ isCancelled: @escaping @Sendable () -> Bool) async throws -> ClipLogits
    /// A timeline's windows decoded walking the video forward once, a chunk at a time; `body` gets each chunk
    /// and returns whether to go on.
    public typealias Walk = @Sendable (_ video: Data, _ grid: WindowGrid, _ chunk: Int,
                                       _ body: @escaping @Sendable (DecodedClips) async throws -> Bool) async throws -> VideoInfo

    let decode: Decode
    let walk: Walk
    let forward: Forward
    public let labels: Labels
    public let model: ModelInfo
    /// From arrival to answer: the forward pass gets what decoding left of it.
    let timeoutSeconds: Double

    public init(decode: @escaping Decode, walk: @escaping Walk = inProcessWalk(), forward: @escaping Forward, labels: Labels,
                model: ModelInfo, timeoutSeconds: Double = .infinity) {
        self.decode = decode
        self.walk = walk
        self.forward = forward
        self.labels = labels
        self.model = model
        self.timeoutSeconds = timeoutSeconds
    }

    /// - Parameter range: sample the clips over this stretch only (seconds), as if the video were only that.
    /// - Throws: what `decode` and `forward` throw.
    public func classify(_ video: Data, clips: Int, topK: Int, range: ClosedRange<Double>? = nil,
                         isCancelled: @escaping @Sendable () -> Bool = { false }) async throws -> Classification {
        let arrived = Self.now()
        let decoded = try await decode(video, clips, range)
        let decodeSeconds = Self.seconds(since: arrived)
        let result = try await forward(decoded, timeoutSeconds - decodeSeconds, isCancelled)
        let timing = Classification.Timing(decode: decodeSeconds * 1000, queue: result.queueSeconds * 1000,
                                           inference: result.inferenceSeconds * 1000, total: Self.seconds(since: arrived) * 1000)
        return Classification(logits: result.logits, labels: labels, topK: topK, decoded: decoded, model: model, timing: timing)
    }

    /// A timeline of `video`: its windows decoded walking forward once (a chunk of windows at a time, so memory
    /// holds a chunk or two whatever the video's length) and forwarded as they come. Each window is sampled as a
    /// single-clip classification restricted to its time range would be; the video-level answer averages every
    /// window's softmax.
    /// - Parameters:
    ///   - isCancelled: checked between chunks; once true the walk stops and this throws `CancellationError`.
    ///   - onWindow: each window as soon as it is computed, with how many windows the timeline has in all.
    /// - Throws: `ServiceError.badParameter` for bad options, `CancellationError`, what `walk` and `forward` throw.
    public func timeline(_ video: Data, options: TimelineOptions, chunk: Int = 8,
                         isCancelled: @escaping @Sendable () -> Bool = { false },
                         onWindow: @escaping @Sendable (Timeline.Window, _ total: Int) -> Void = { _, _ in }) async throws -> Classification {
        try options.validate()
        let arrived = Self.now()
        let builder = Mutex(TimelineBuilder(labels: labels, topK: options.topK))
        /// Seconds spent waiting for decoded chunks, in the batch queue and in forward passes; the window count once
        /// the video's length is known.
        let clock = Mutex((decode: 0.0, queue: 0.0, inference: 0.0, waitingSince: arrived, total: nil as Int?))
        let (forward, timeoutSeconds, grid) = (self.forward, self.timeoutSeconds, options.grid)
        let info = try await walk(video, grid, chunk) { clips in
            clock.withLock { $0.decode += Self.seconds(since: $0.waitingSince) }
            guard !isCancelled() else { throw CancellationError() }
            let result = try await forward(clips, timeoutSeconds, isCancelled)
            let windows = builder.withLock { $0.add(result.logits, of: clips) }
            clock.withLock {
                $0.queue += result.queueSeconds
                $0.inference += result.inferenceSeconds
                $0.waitingSince = Self.now()
            }
            let total = clock.withLock { state in
                if state.total == nil { state.total = grid.windows(duration: clips.info.durationSeconds).count }
                return state.total!
            }
            for window in windows { onWindow(window, total) }
            return !isCancelled()
        }
        guard !isCancelled() else { throw CancellationError() }
        let spent = clock.withLock { $0 }
        let timing = Classification.Timing(decode: spent.decode * 1000, queue: spent.queue * 1000,
                                           inference: spent.inference * 1000, total: Self.seconds(since: arrived) * 1000)
        return builder.withLock { $0.answer(info: info, model: model, timing: timing, options: options) }
    }

    /// Decoding a timeline in this process, on a thread of its own: for offline use.
    public static func inProcessWalk(limits: DecodeLimits = .default) -> Walk {
        { video, grid, chunk, body in
            try await onOwnThread(name: "timeline-decode") {
                try ClipDecoder.walk(video, grid: grid, chunk: chunk, limits: limits) { clips in try runBlocking { try await body(clips) } }
            }
        }
    }

    /// The forward pass on the calling thread, one call for all the clips: for offline use.
    public static func direct(_ network: R2Plus1D18) -> Forward {
        { decoded, _, _ in forwardNow(network, decoded) }
    }

    /// All of `decoded`'s clips in one forward pass on the calling thread.
    public static func forwardNow(_ network: R2Plus1D18, _ decoded: DecodedClips) -> ClipLogits {
        let start = now()
        let (features, logits) = network.forwardWithFeatures(Tensor(shape: decoded.shape, data: decoded.values))
        let classes = logits.shape[1], width = features.shape[1]
        let rows = (0..<decoded.clipCount).map { Array(logits.data[$0 * classes..<($0 + 1) * classes]) }
        let embeddings = (0..<decoded.clipCount).map { Array(features.data[$0 * width..<($0 + 1) * width]) }
        return ClipLogits(logits: rows, embeddings: embeddings, queueSeconds: 0, inferenceSeconds: seconds(since: start))
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
    static func seconds(since start: UInt64) -> Double { Double(now() - start) / 1e9 }
}

extension ClassificationPipeline {
    /// `forward` for work no client waits on (a job): a full batch queue (503) makes a chunk wait its turn and go
    /// again every `pollSeconds`, rather than fail a job partway through a long video. A cancel ends the wait.
    static func waitingForRoom(_ forward: @escaping Forward, pollSeconds: Double = 0.1) -> Forward {
        { clips, deadlineSeconds, isCancelled in
            while true {
                do {
                    return try await forward(clips, deadlineSeconds, isCancelled)
                } catch let error as ServiceError where error.status == .serviceUnavailable && !isCancelled() {
                    try await Task.sleep(nanoseconds: UInt64(pollSeconds * 1e9))
                }
            }
        }
    }
}
