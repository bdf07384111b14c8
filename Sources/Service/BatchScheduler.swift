import Foundation
import HTTPServer
import R2Plus1D
import Synchronization

/// The batching worker pool: clips from every request enter one bounded queue; each worker takes up to
/// `maxBatch` clips, waiting at most `maxDelay` for more once it holds one (and only while `incoming` says
/// clips are on their way: a request that is not yet decoding cannot make it within the delay), runs one
/// forward pass and routes each clip's logits back to its request. A request's clips may span batches. Clips
/// of requests whose client went away or whose deadline passed are dropped before compute.
public final class BatchScheduler: @unchecked Sendable {
    public struct Settings: Sendable {
        public var workers = 1
        public var maxBatch = 8
        public var maxDelaySeconds = 0.010
        /// Clips waiting at most; a request that does not fit is refused with 503.
        public var queueCapacity = 64

        public init() {}
    }

    /// What a request gets back: one logit vector per clip, and where the time went.
    public struct Result: Sendable {
        public var logits: [[Float]]
        public var queueSeconds: Double
        public var inferenceSeconds: Double
    }

    private struct Job {
        let request: PendingRequest
        let clip: Int
    }

    let settings: Settings
    private let model: R2Plus1D18
    private let metrics: MetricsRegistry
    private let condition = NSCondition()
    private var queue: [Job] = []
    private var running = true
    private var threads: [Thread] = []

    /// Requests admitted but not yet queued (decoding, say): more clips worth waiting for.
    private let incoming: @Sendable () -> Int

    /// - Parameter incoming: how many requests are on their way to the queue; while none is, a worker holding
    ///   clips does not wait for more.
    public init(model: R2Plus1D18, settings: Settings, metrics: MetricsRegistry,
                incoming: @escaping @Sendable () -> Int = { 1 }) {
        self.model = model
        self.settings = settings
        self.metrics = metrics
        self.incoming = incoming
        metrics.gauge(MetricName.queueDepth, help: "Clips waiting for a forward pass.") { [weak self] in Double(self?.depth ?? 0) }
        for index in 0..<max(1, settings.workers) {
            let thread = Thread { [weak self] in self?.work() }
            thread.name = "batch-worker-\(index)"
            thread.stackSize = 8 << 20
            threads.append(thread)
            thread.start()
        }
    }

    public var depth: Int { condition.withLock { queue.count } }

    /// Stops the workers once the queue is empty.
    public func shutdown() {
        condition.withLock {
            running = false
            condition.broadcast()
        }
    }

    /// Queues every clip of one request and waits for their logits.
    /// - Throws: `ServiceError.overloaded` when the queue cannot take them, `.deadlineExceeded` when `deadline`
    ///   passes first; `CancellationError` when the client went away.
    public func classify(_ clips: [Float], count: Int, context: RequestContext, deadlineSeconds: Double) async throws -> Result {
        // Already past its deadline (decoding took it all): never queued, so no worker can pick it up.
        guard deadlineSeconds > 0 else {
            metrics.increment(MetricName.clipsDropped, labels: ["reason": "deadline"], by: Double(count))
            throw ServiceError.deadlineExceeded(seconds: deadlineSeconds)
        }
        let request = PendingRequest(clips: clips, count: count, context: context)
        return try await withCheckedThrowingContinuation { continuation in
            request.continuation = continuation
            let accepted = condition.withLock {
                guard queue.count + count <= settings.queueCapacity else { return false }
                for clip in 0..<count { queue.append(Job(request: request, clip: clip)) }
                condition.broadcast()
                return true
            }
            guard accepted else {
                request.finish(.failure(ServiceError.overloaded("the queue is full (\(settings.queueCapacity) clips); retry shortly")))
                return
            }
            // The deadline: fail the request and free its queue slots. The timer holds the request weakly: a
            // strong hold kept every answered request's clips (2.3 MB each) alive for the whole timeout.
            Task { [weak self, weak request] in
                try? await Task.sleep(nanoseconds: UInt64(max(0, deadlineSeconds) * 1e9))
                guard let request else { return }
                if request.finish(.failure(ServiceError.deadlineExceeded(seconds: deadlineSeconds))) {
                    self?.remove(request, reason: "deadline")
                }
            }
        }
    }

    private func remove(_ request: PendingRequest, reason: String) {
        let removed = condition.withLock {
            let before = queue.count
            queue.removeAll { $0.request === request }
            return before - queue.count
        }
        if removed > 0 { metrics.increment(MetricName.clipsDropped, labels: ["reason": reason], by: Double(removed)) }
    }

    private func work() {
        while let batch = nextBatch() {
            // Drop what nobody waits for any more.
            var live: [Job] = []
            for job in batch {
                // Cancelled first: finishing a gone client's request on its first clip must not make its other
                // clips look like deadline drops.
                if job.request.context.isCancelled {
                    metrics.increment(MetricName.clipsDropped, labels: ["reason": "client_gone"])
                    job.request.finish(.failure(CancellationError()))
                } else if job.request.isFinished {
                    metrics.increment(MetricName.clipsDropped, labels: ["reason": "deadline"])
                } else {
                    live.append(job)
                }
            }
            guard !live.isEmpty else { continue }
            let clipSize = live[0].request.clipSize
            var input = [Float](repeating: 0, count: live.count * clipSize)
            input.withUnsafeMutableBufferPointer { out in
                for (i, job) in live.enumerated() {
                    job.request.clips.withUnsafeBufferPointer { source in
                        (out.baseAddress! + i * clipSize).update(from: source.baseAddress! + job.clip * clipSize, count: clipSize)
                    }
                }
            }
            let start = DispatchTime.now().uptimeNanoseconds
            for job in live { job.request.started(at: start) }
            let logits = model.forward(Tensor(shape: [live.count] + DecodedShape.clip, data: input))
            let end = DispatchTime.now().uptimeNanoseconds
            metrics.observe(MetricName.inferenceDuration, Double(end - start) / 1e9)
            metrics.observe(MetricName.batchSize, Double(live.count))
            metrics.increment(MetricName.clipsComputed, by: Double(live.count))
            metrics.increment(MetricName.forwardCalls)
            let classes = logits.shape[1]
            for (i, job) in live.enumerated() {
                job.request.deliver(clip: job.clip, logits: Array(logits.data[i * classes..<(i + 1) * classes]), at: end)
            }
        }
    }

    /// Blocks for the first clip, then gathers more until `maxBatch` or `maxDelay`; nil when shut down.
    private func nextBatch() -> [Job]? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty {
            if !running { return nil }
            condition.wait()
        }
        var batch = [queue.removeFirst()]
        let deadline = Date().addingTimeInterval(settings.maxDelaySeconds)
        while batch.count < settings.maxBatch {
            if !queue.isEmpty {
                batch.append(queue.removeFirst())
                continue
            }
            if incoming() == 0 || !condition.wait(until: deadline) { break }
        }
        return batch
    }
}

/// The clip tensor shape the network takes.
enum DecodedShape {
    static let clip = [3, 16, 112, 112]
    static let clipSize = clip.reduce(1, *)
}

/// One request's clips while they wait and compute.
final class PendingRequest: @unchecked Sendable {
    let clips: [Float]
    let count: Int
    let context: RequestContext
    let submitted = DispatchTime.now().uptimeNanoseconds
    var continuation: CheckedContinuation<BatchScheduler.Result, Error>?
    private let lock = NSLock()
    private var logits: [[Float]?]
    private var remaining: Int
    private var finished = false
    private var firstStart: UInt64?
    private var lastEnd: UInt64 = 0

    var clipSize: Int { DecodedShape.clipSize }

    /// Requests alive in this process (their clips with them): for tests that nothing outlives its answer.
    static let alive = Atomic<Int>(0)

    deinit { Self.alive.subtract(1, ordering: .relaxed) }

    init(clips: [Float], count: Int, context: RequestContext) {
        Self.alive.add(1, ordering: .relaxed)
        precondition(clips.count == count * DecodedShape.clipSize)
        self.clips = clips
        self.count = count
        self.context = context
        logits = Array(repeating: nil, count: count)
        remaining = count
    }

    var isFinished: Bool { lock.withLock { finished } }

    func started(at time: UInt64) {
        lock.withLock { if firstStart == nil { firstStart = time } }
    }

    func deliver(clip: Int, logits value: [Float], at time: UInt64) {
        let complete: BatchScheduler.Result? = lock.withLock {
            guard !finished else { return nil }
            logits[clip] = value
            remaining -= 1
            lastEnd = max(lastEnd, time)
            guard remaining == 0 else { return nil }
            let start = firstStart ?? submitted
            return BatchScheduler.Result(logits: logits.map { $0! }, queueSeconds: Double(start - submitted) / 1e9,
                                         inferenceSeconds: Double(lastEnd - start) / 1e9)
        }
        if let complete { finish(.success(complete)) }
    }

    /// Resumes the waiting handler once. - Returns: false if it had already been resumed.
    @discardableResult
    func finish(_ result: Swift.Result<BatchScheduler.Result, Error>) -> Bool {
        let continuation: CheckedContinuation<BatchScheduler.Result, Error>? = lock.withLock {
            guard !finished else { return nil }
            finished = true
            defer { self.continuation = nil }
            return self.continuation
        }
        guard let continuation else { return false }
        continuation.resume(with: result)
        return true
    }
}
