import Foundation

/// The forward pass's answer for one request: a logit vector per clip, and where the time went.
public struct ClipLogits: Sendable {
    public var logits: [[Float]]
    /// Each clip's pooled features before `fc`, where the forward pass gave them (else empty).
    public var embeddings: [[Float]] = []
    public var queueSeconds: Double
    public var inferenceSeconds: Double

    public init(logits: [[Float]], embeddings: [[Float]] = [], queueSeconds: Double, inferenceSeconds: Double) {
        self.logits = logits
        self.embeddings = embeddings
        self.queueSeconds = queueSeconds
        self.inferenceSeconds = inferenceSeconds
    }
}

/// The batching worker pool: worker threads run `BatchQueue`'s policy on the real clock, run each batch through
/// the forward function they are given, and route each clip's logits back to its request. Clips of requests
/// whose client went away or whose deadline passed are dropped before compute.
public final class BatchScheduler: @unchecked Sendable {
    public struct Settings: Sendable {
        public var workers = 1
        public var maxBatch = 8
        public var maxDelaySeconds = 0.010
        /// Clips waiting at most; a request that does not fit is refused with 503.
        public var queueCapacity = 64
        /// Most clips of background jobs per forward pass: small, so a request arriving meanwhile waits little.
        public var backgroundMaxBatch = 1
        /// Interactive batches in a row at most while background clips wait.
        public var backgroundEvery = 4
        /// How long background clips give way to an interactive request decoding or just answered.
        public var backgroundGraceSeconds = 0.1

        public init() {}
    }

    /// Clips in, one row of logits per clip out (`count` rows, concatenated).
    public typealias Forward = @Sendable (_ clips: [Float], _ count: Int) -> [Float]

    let settings: Settings
    private let forward: Forward
    private let metrics: MetricsRegistry
    private let condition = NSCondition()
    private var queue: BatchQueue
    private var running = true
    private let held = HeldRequests()
    /// Requests admitted but not yet queued (decoding, say): more clips worth waiting for.
    private let incoming: @Sendable () -> Int

    /// - Parameters:
    ///   - forward: the network; called from the worker threads, one batch at a time per worker.
    ///   - incoming: how many requests are on their way to the queue; while none is, a worker holding clips
    ///     does not wait for more.
    public init(settings: Settings, metrics: MetricsRegistry, forward: @escaping Forward,
                incoming: @escaping @Sendable () -> Int = { 1 }) {
        self.settings = settings
        self.metrics = metrics
        self.forward = forward
        self.incoming = incoming
        queue = BatchQueue(maxBatch: settings.maxBatch, maxDelaySeconds: settings.maxDelaySeconds, capacity: settings.queueCapacity,
                           backgroundMaxBatch: settings.backgroundMaxBatch, backgroundEvery: settings.backgroundEvery,
                           backgroundGraceSeconds: settings.backgroundGraceSeconds)
        metrics.gauge(MetricName.queueDepth, help: "Clips waiting for a forward pass.") { [weak self] in Double(self?.depth ?? 0) }
        let held = held
        metrics.gauge(MetricName.requestsHeld, help: "Requests whose clips the batch scheduler still holds.") { Double(held.value) }
        for index in 0..<max(1, settings.workers) {
            let thread = Thread { [weak self] in self?.work() }
            thread.name = "batch-worker-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    public var depth: Int { condition.withLock { queue.depth } }

    /// Requests whose clips are held now.
    var heldRequests: Int { held.value }

    /// Stops the workers once the queue is empty.
    public func shutdown() {
        condition.withLock {
            running = false
            condition.broadcast()
        }
    }

    /// Queues every clip of one request and waits for their logits.
    /// - Parameters:
    ///   - clips: `count` clips, concatenated.
    ///   - isCancelled: true once nobody waits for the answer; the clips are then dropped before compute.
    ///   - requestClass: interactive requests go before background jobs (see `BatchQueue`).
    /// - Throws: `ServiceError.overloaded` when the queue cannot take them, `.deadlineExceeded` when `deadline`
    ///   passes first; `CancellationError` when the client went away.
    public func classify(_ clips: [Float], count: Int, isCancelled: @escaping @Sendable () -> Bool,
                         deadlineSeconds: Double, requestClass: RequestClass = .interactive) async throws -> ClipLogits {
        // Already past its deadline (decoding took it all): never queued, so no worker can pick it up.
        guard deadlineSeconds > 0 else {
            metrics.increment(MetricName.clipsDropped, labels: ["reason": "deadline"], by: Double(count))
            throw ServiceError.deadlineExceeded(seconds: deadlineSeconds)
        }
        let request = PendingRequest(clips: clips, count: count, isCancelled: isCancelled, submitted: Self.now(), held: held,
                                     requestClass: requestClass)
        return try await withCheckedThrowingContinuation { continuation in
            request.continuation = continuation
            let accepted = condition.withLock {
                guard queue.admit(request) else { return false }
                condition.broadcast()
                return true
            }
            guard accepted else {
                request.finish(.failure(ServiceError.overloaded("the queue is full (\(settings.queueCapacity) clips); retry shortly")))
                return
            }
            // The deadline: fail the request and free its queue slots. Held weakly: a strong hold would keep every
            // answered request's clips alive for the whole timeout.
            Task { [weak self, weak request] in
                try? await Task.sleep(nanoseconds: UInt64(max(0, deadlineSeconds) * 1e9))
                guard let request else { return }
                // Out of the queue first, so no worker takes it, and counted before its waiter resumes.
                self?.remove(request, reason: "deadline")
                request.finish(.failure(ServiceError.deadlineExceeded(seconds: deadlineSeconds)))
            }
        }
    }

    private static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    private func remove(_ request: PendingRequest, reason: String) {
        let removed = condition.withLock { queue.remove(request) }
        if removed > 0 { metrics.increment(MetricName.clipsDropped, labels: ["reason": reason], by: Double(removed)) }
    }

    private func work() {
        condition.lock()
        defer { condition.unlock() }
        while true {
            let now = Self.now()
            switch queue.step(now: now, incoming: incoming()) {
            case .waitForWork:
                guard running else { return }
                condition.wait()
            case .wait(let until):
                _ = condition.wait(until: Date(timeIntervalSinceNow: Double(until - now) / 1e9))
            case .run(let jobs):
                condition.unlock()
                run(jobs)
                condition.lock()
            }
        }
    }

    private func run(_ jobs: [BatchQueue.Job]) {
        let (live, gone, expired) = BatchQueue.sort(jobs)
        // Counted before the waiters resume, so whoever sees the error also sees the count.
        if !gone.isEmpty { metrics.increment(MetricName.clipsDropped, labels: ["reason": "client_gone"], by: Double(gone.count)) }
        if !expired.isEmpty { metrics.increment(MetricName.clipsDropped, labels: ["reason": "deadline"], by: Double(expired.count)) }
        for job in gone { job.request.finish(.failure(CancellationError())) }
        guard !live.isEmpty else { return }
        let clipSize = live[0].request.clipSize
        var input = [Float](repeating: 0, count: live.count * clipSize)
        input.withUnsafeMutableBufferPointer { out in
            for (i, job) in live.enumerated() {
                job.request.clips.withUnsafeBufferPointer { source in
                    (out.baseAddress! + i * clipSize).update(from: source.baseAddress! + job.clip * clipSize, count: clipSize)
                }
            }
        }
        let start = Self.now()
        for job in live { job.request.started(at: start) }
        let logits = forward(input, live.count)
        let end = Self.now()
        metrics.observe(MetricName.inferenceDuration, Double(end - start) / 1e9)
        metrics.observe(MetricName.batchSize, Double(live.count))
        metrics.increment(MetricName.clipsComputed, by: Double(live.count))
        metrics.increment(MetricName.forwardCalls)
        let classes = logits.count / live.count
        for (i, job) in live.enumerated() {
            job.request.deliver(clip: job.clip, logits: Array(logits[i * classes..<(i + 1) * classes]), at: end)
        }
    }
}
