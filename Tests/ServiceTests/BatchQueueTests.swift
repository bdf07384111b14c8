import Foundation
@testable import Service
import Testing

/// The batching policy with a fake clock: batch sizes, the gathering delay, capacity, deadline removal, drops
/// and arrival order.
@Suite struct BatchQueueTests {
    static let ms: UInt64 = 1_000_000
    let held = HeldRequests()

    func request(clips: Int, cancelled: Bool = false) -> PendingRequest {
        PendingRequest(clips: [Float](repeating: 0, count: clips * 2), count: clips, isCancelled: { cancelled },
                       submitted: 0, held: held)
    }

    static func shape(_ step: BatchQueue.Step) -> String {
        switch step {
        case .run(let jobs): "run \(jobs.count)"
        case .waitForWork: "idle"
        case .wait(let until): "wait \(until / ms)"
        }
    }

    @Test func aFullBatchRunsAtOnceAndTheRestFollows() {
        var queue = BatchQueue(maxBatch: 4, maxDelaySeconds: 0.010, capacity: 64)
        let admitted = queue.admit(request(clips: 6))
        #expect(admitted)
        #expect(Self.shape(queue.step(now: 0, incoming: 5)) == "run 4")
        // Two left and more are coming: wait up to the delay, counted from when the worker first held them.
        #expect(Self.shape(queue.step(now: 1 * Self.ms, incoming: 5)) == "wait 11")
        #expect(Self.shape(queue.step(now: 5 * Self.ms, incoming: 5)) == "wait 11")
        #expect(Self.shape(queue.step(now: 11 * Self.ms, incoming: 5)) == "run 2")
        #expect(Self.shape(queue.step(now: 12 * Self.ms, incoming: 5)) == "idle")
    }

    @Test func nothingOnItsWayMeansNoWaiting() {
        var queue = BatchQueue(maxBatch: 8, maxDelaySeconds: 10, capacity: 64)
        _ = queue.admit(request(clips: 1))
        #expect(Self.shape(queue.step(now: 0, incoming: 0)) == "run 1")
    }

    @Test func clipsArrivingWhileWaitingJoinTheBatch() {
        var queue = BatchQueue(maxBatch: 8, maxDelaySeconds: 0.010, capacity: 64)
        _ = queue.admit(request(clips: 2))
        #expect(Self.shape(queue.step(now: 0, incoming: 1)) == "wait 10")
        _ = queue.admit(request(clips: 3))
        #expect(Self.shape(queue.step(now: 4 * Self.ms, incoming: 1)) == "wait 10")
        _ = queue.admit(request(clips: 3))
        #expect(Self.shape(queue.step(now: 6 * Self.ms, incoming: 1)) == "run 8")
    }

    @Test func aRequestThatDoesNotFitIsRefusedWhole() {
        var queue = BatchQueue(maxBatch: 8, maxDelaySeconds: 0, capacity: 10)
        let first = queue.admit(request(clips: 6)), second = queue.admit(request(clips: 5))
        #expect(first && !second && queue.depth == 6)
        let third = queue.admit(request(clips: 4))
        #expect(third && queue.depth == 10)
    }

    @Test func requestsAreServedInArrivalOrderAndMaySpanBatches() {
        var queue = BatchQueue(maxBatch: 3, maxDelaySeconds: 0, capacity: 64)
        let a = request(clips: 2), b = request(clips: 3), c = request(clips: 1)
        for r in [a, b, c] { _ = queue.admit(r) }
        var order: [[ObjectIdentifier]] = []
        while case .run(let jobs) = queue.step(now: 0, incoming: 0) { order.append(jobs.map { ObjectIdentifier($0.request) }) }
        let (ia, ib, ic) = (ObjectIdentifier(a), ObjectIdentifier(b), ObjectIdentifier(c))
        #expect(order == [[ia, ia, ib], [ib, ib, ic]])
    }

    @Test func aRequestPastItsDeadlineLeavesTheQueueAndTheGatheredBatch() {
        var queue = BatchQueue(maxBatch: 8, maxDelaySeconds: 0.010, capacity: 64)
        let late = request(clips: 3), other = request(clips: 2)
        _ = queue.admit(late)
        #expect(Self.shape(queue.step(now: 0, incoming: 1)) == "wait 10")
        _ = queue.admit(other)
        #expect(queue.remove(late) == 3)
        #expect(queue.depth == 2)
        // The delay restarts: the worker first holds `other` now.
        #expect(Self.shape(queue.step(now: 10 * Self.ms, incoming: 1)) == "wait 20")
        guard case .run(let jobs) = queue.step(now: 20 * Self.ms, incoming: 1) else { Issue.record("no batch"); return }
        #expect(jobs.allSatisfy { $0.request === other } && jobs.count == 2)
    }

    @Test func goneClientsAndFinishedRequestsAreSortedOutBeforeCompute() {
        let gone = request(clips: 2, cancelled: true), expired = request(clips: 1), live = request(clips: 1)
        expired.finish(.failure(ServiceError.deadlineExceeded(seconds: 1)))
        var queue = BatchQueue(maxBatch: 8, maxDelaySeconds: 0, capacity: 64)
        for r in [gone, expired, live] { _ = queue.admit(r) }
        guard case .run(let jobs) = queue.step(now: 0, incoming: 0) else { Issue.record("no batch"); return }
        let sorted = BatchQueue.sort(jobs)
        #expect(sorted.live.count == 1 && sorted.live[0].request === live)
        #expect(sorted.clientGone.count == 2 && sorted.expired.count == 1)
    }
}

/// The scheduler's threads around a fake forward pass: batching, routing logits back, drops, capacity and
/// releasing requests, with no videos and no sleeps.
@Suite struct BatchSchedulerTests {
    /// Clips of `size` floats; the fake network's logits for a clip are (first value, batch size).
    static let size = 4

    final class Calls: @unchecked Sendable {
        private let lock = NSLock()
        private var sizes: [Int] = []
        func record(_ n: Int) { lock.withLock { sizes.append(n) } }
        var batchSizes: [Int] { lock.withLock { sizes } }
    }

    static func scheduler(_ settings: (inout BatchScheduler.Settings) -> Void = { _ in }, calls: Calls,
                          incoming: @escaping @Sendable () -> Int = { 0 }) -> (BatchScheduler, MetricsRegistry) {
        var s = BatchScheduler.Settings()
        settings(&s)
        let metrics = MetricsRegistry()
        metrics.declareServiceMetrics(maxBatch: s.maxBatch)
        let scheduler = BatchScheduler(settings: s, metrics: metrics, forward: { clips, count in
            calls.record(count)
            return (0..<count).flatMap { [clips[$0 * size], Float(count)] }
        }, incoming: incoming)
        return (scheduler, metrics)
    }

    static func clips(_ tags: [Float]) -> [Float] { tags.flatMap { [Float](repeating: $0, count: size) } }

    @Test func eachClipsLogitsComeBackToItsRequestInOrder() async throws {
        let calls = Calls()
        let (scheduler, _) = Self.scheduler(calls: calls)
        defer { scheduler.shutdown() }
        let result = try await scheduler.classify(Self.clips([7, 8, 9]), count: 3, isCancelled: { false }, deadlineSeconds: 30)
        #expect(result.logits.map(\.[0]) == [7, 8, 9])
        #expect(result.inferenceSeconds >= 0 && result.queueSeconds >= 0)
    }

    @Test func concurrentRequestsShareForwardPasses() async throws {
        let calls = Calls()
        // incoming > 0 while the requests are submitted: the worker gathers up to max batch within the delay.
        let (scheduler, _) = Self.scheduler({ $0.maxBatch = 8; $0.maxDelaySeconds = 5 }, calls: calls, incoming: { 1 })
        defer { scheduler.shutdown() }
        let answers = try await withThrowingTaskGroup(of: [Float].self) { group in
            for tag in 0..<4 {
                group.addTask {
                    try await scheduler.classify(Self.clips([Float(tag), Float(tag)]), count: 2, isCancelled: { false },
                                                 deadlineSeconds: 30).logits.map(\.[0])
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(answers.map { $0 }) == Set((0..<4).map { [Float($0), Float($0)] }))
        #expect(calls.batchSizes == [8], "\(calls.batchSizes)")
    }

    @Test func aFullQueueRefusesWithOverloaded() async throws {
        let (scheduler, _) = Self.scheduler({ $0.queueCapacity = 2 }, calls: Calls())
        defer { scheduler.shutdown() }
        await #expect(throws: ServiceError.self) {
            try await scheduler.classify(Self.clips([1, 2, 3]), count: 3, isCancelled: { false }, deadlineSeconds: 30)
        }
    }

    @Test func aGoneClientCostsNoCompute() async throws {
        let calls = Calls()
        let (scheduler, metrics) = Self.scheduler(calls: calls)
        defer { scheduler.shutdown() }
        await #expect(throws: CancellationError.self) {
            try await scheduler.classify(Self.clips([1, 2]), count: 2, isCancelled: { true }, deadlineSeconds: 30)
        }
        #expect(calls.batchSizes.isEmpty)
        #expect(metrics.render().contains(#"r2plus1d_clips_dropped_total{reason="client_gone"} 2"#))
    }

    @Test func noDeadlineLeftMeansNeverQueued() async throws {
        let calls = Calls()
        let (scheduler, metrics) = Self.scheduler(calls: calls)
        defer { scheduler.shutdown() }
        await #expect(throws: ServiceError.deadlineExceeded(seconds: -1)) {
            try await scheduler.classify(Self.clips([1]), count: 1, isCancelled: { false }, deadlineSeconds: -1)
        }
        #expect(calls.batchSizes.isEmpty && metrics.render().contains(#"r2plus1d_clips_dropped_total{reason="deadline"} 1"#))
    }

    @Test func answeredRequestsAreReleased() async throws {
        let (scheduler, _) = Self.scheduler(calls: Calls())
        defer { scheduler.shutdown() }
        for n in 1...3 {
            _ = try await scheduler.classify(Self.clips((0..<n).map(Float.init)), count: n, isCancelled: { false }, deadlineSeconds: 30)
        }
        // The worker drops its batch right after delivering; wait for that (at most 5 s) without a fixed sleep.
        let giveUp = ContinuousClock.now + .seconds(5)
        while scheduler.heldRequests > 0 && ContinuousClock.now < giveUp { await Task.yield() }
        #expect(scheduler.heldRequests == 0)
    }
}
