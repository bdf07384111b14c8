import Foundation
import HTTPServer
import Logging
@testable import Service
import Synchronization
import Testing
import VideoDecode

/// Two runners sharing one store, as two pods share Redis, with a fake job work that computes one window per
/// `Gate` step: progress reaches the store through the lease renewals, and a cancel on the other pod reaches
/// the work.
@Suite(.serialized) struct JobRunnerTests {
    /// Windows the fake work has done; the test lets it go one window at a time.
    final class Gate: Sendable {
        let allowed = Atomic<Int>(0)
        let done = Atomic<Int>(0)
        let sawCancel = Atomic<Bool>(false)
    }

    static func settings() -> JobSettings {
        var s = JobSettings()
        s.leaseSeconds = 0.3
        s.retentionSeconds = 60
        return s
    }

    static func runner(_ store: any JobStore, pod: String, gate: Gate, total: Int = 10, uploads: BodyBudget? = nil) -> JobRunner {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return JobRunner(store: store, settings: settings(), pod: pod, metrics: MetricsRegistry(), logger: logger,
                         uploads: uploads) { _, _, progress, isCancelled in
            progress(0, total)
            while gate.done.load(ordering: .relaxed) < total {
                if isCancelled() {
                    gate.sawCancel.store(true, ordering: .relaxed)
                    throw CancellationError()
                }
                if gate.done.load(ordering: .relaxed) < gate.allowed.load(ordering: .relaxed) {
                    let done = gate.done.add(1, ordering: .relaxed).newValue
                    progress(done, total)
                } else {
                    try await Task.sleep(nanoseconds: 5_000_000)
                }
            }
            return Classification(predictions: [], clips: [],
                                  info: .init(container: "c", codec: "h264", width: 1, height: 1, fps: 1, durationSeconds: 1, rotation: 0),
                                  model: ModelInfo(source: .demo(seed: 1), sha256: nil), timing: .init(decode: 0, queue: 0, inference: 0, total: 0))
        }
    }

    /// A runner allowing two retries `delaySeconds` apart, whose work runs `attempt` and then succeeds.
    static func retrying(delaySeconds: Double, _ attempt: @escaping @Sendable () throws -> Void) -> JobRunner {
        var settings = Self.settings()
        settings.retries = 2
        settings.retryDelaySeconds = delaySeconds
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return JobRunner(store: InMemoryJobStore(settings: settings), settings: settings, pod: "a", metrics: MetricsRegistry(),
                         logger: logger) { _, _, _, _ in
            try attempt()
            return Classification(predictions: [], clips: [],
                                  info: .init(container: "c", codec: "h264", width: 1, height: 1, fps: 1, durationSeconds: 1, rotation: 0),
                                  model: ModelInfo(source: .demo(seed: 1), sha256: nil), timing: .init(decode: 0, queue: 0, inference: 0, total: 0))
        }
    }

    static func waitUntil(seconds: Double = 5, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        return false
    }

    @Test func progressReachesTheOtherPodThroughTheLeaseRenewals() async throws {
        let store = InMemoryJobStore(settings: Self.settings())
        let gate = Gate()
        let a = Self.runner(store, pod: "a", gate: gate), b = Self.runner(store, pod: "b", gate: Gate())
        let job = try await a.submit(video: Data([1]), options: TimelineOptions(), idempotency: nil).job
        gate.allowed.store(4, ordering: .relaxed)
        #expect(try await Self.waitUntil { try await b.status(job.id)?.windows_done == 4 })
        #expect(try await b.status(job.id)?.progress == 0.4)
        // Held at 4 windows for several lease lengths: the renewals keep the job running, not failed.
        try await Task.sleep(nanoseconds: 1_000_000_000)
        #expect(try await b.status(job.id)?.state == .running)
        gate.allowed.store(10, ordering: .relaxed)
        #expect(try await Self.waitUntil { try await b.status(job.id)?.state == .done })
        #expect(try await b.status(job.id)?.progress == 1)
    }

    /// A job keeps its upload in memory until it ends, so the upload counts against the server's body budget beside
    /// the request bodies: one that would not fit is refused 503, and the bytes come back when the job ends, or at
    /// once for a replayed idempotency key, whose upload is not kept.
    @Test func aJobHoldsItsUploadAgainstTheBodyBudgetUntilItEnds() async throws {
        let store = InMemoryJobStore(settings: Self.settings())
        let gate = Gate()
        let uploads = BodyBudget(limit: 100)
        let a = Self.runner(store, pod: "a", gate: gate, uploads: uploads)
        let claim = IdempotencyClaim(scopedKey: "k", fingerprint: "f")
        let first = try await a.submit(video: Data(count: 60), options: TimelineOptions(), idempotency: claim).job
        #expect(uploads.inUse == 60)
        let replayed = try await a.submit(video: Data(count: 30), options: TimelineOptions(), idempotency: claim)
        #expect(!replayed.created && replayed.job.id == first.id && uploads.inUse == 60)
        do {
            _ = try await a.submit(video: Data(count: 50), options: TimelineOptions(), idempotency: nil)
            Issue.record("a job over the budget was taken")
        } catch let error as ServiceError {
            #expect(error.status == .serviceUnavailable && error.responseHeaders["Retry-After"] != nil)
        }
        #expect(uploads.inUse == 60)
        gate.allowed.store(10, ordering: .relaxed)
        #expect(try await Self.waitUntil { try await a.status(first.id)?.state == .done })
        #expect(try await Self.waitUntil { uploads.inUse == 0 })
    }

    /// A job that fails for want of room (503: no decode thread free) runs again after a pause, as a client of the
    /// synchronous routes would retry; after `retries` more failures it fails with the last one's detail. Other
    /// failures are not retried, nor is the server's memory running out (the job's decode would likely be the
    /// largest again).
    @Test(arguments: [(2, ServiceError.overloaded("full"), JobState.done, 3), (3, .overloaded("full"), .failed, 3),
                      (1, .unusableVideo("bad"), .failed, 1), (1, .outOfMemory, .failed, 1)])
    func aJobThatFindsNoRoomRunsAgain(failures: Int, error: ServiceError, ends: JobState, attempts: Int) async throws {
        let tries = Atomic<Int>(0)
        let runner = Self.retrying(delaySeconds: 0.01) {
            guard tries.add(1, ordering: .relaxed).newValue > failures else { throw error }
        }
        let job = try await runner.submit(video: Data([1]), options: TimelineOptions(), idempotency: nil).job
        #expect(try await Self.waitUntil { try await runner.status(job.id)?.state == ends })
        #expect(tries.load(ordering: .relaxed) == attempts)
        if ends == .failed { #expect(try await runner.status(job.id)?.error == error.detail) }
    }

    /// A job's chunk that finds the batch queue full waits its turn instead of failing the job partway through;
    /// a cancel ends the wait.
    @Test func aJobsChunkWaitsForRoomInTheQueue() async throws {
        let refusals = Atomic<Int>(0), cancelled = Atomic<Bool>(false)
        let forward = ClassificationPipeline.waitingForRoom({ _, _, _ in
            if refusals.add(1, ordering: .relaxed).newValue <= 3 { throw ServiceError.overloaded("the queue is full") }
            return ClipLogits(logits: [[1]], queueSeconds: 0, inferenceSeconds: 0)
        }, pollSeconds: 0.001)
        let info = VideoInfo(container: "c", codec: "h264", width: 1, height: 1, fps: 1, durationSeconds: 1, rotation: 0)
        let clips = DecodedClips(values: [Float](repeating: 0, count: ClipSpec.kinetics.elementCount), clipCount: 1, info: info,
                                 frameTimes: [[Double](repeating: 0, count: 16)], spans: [ClipSpan(start_s: 0, end_s: 1)],
                                 decodedFrames: 16)
        #expect(try await forward(clips, 1, { false }).logits == [[1]])
        #expect(refusals.load(ordering: .relaxed) == 4)
        refusals.store(0, ordering: .relaxed)
        await #expect(throws: ServiceError.self) {
            _ = try await forward(clips, 1, {
                cancelled.store(refusals.load(ordering: .relaxed) >= 2, ordering: .relaxed)
                return cancelled.load(ordering: .relaxed)
            })
        }
        #expect(refusals.load(ordering: .relaxed) == 2)
    }

    /// A cancel during the pause before a retry ends the job at once, without running the work again.
    @Test func aCancelDuringTheRetryPauseEndsTheJob() async throws {
        let tries = Atomic<Int>(0)
        let runner = Self.retrying(delaySeconds: 30) {
            tries.add(1, ordering: .relaxed)
            throw ServiceError.overloaded("full")
        }
        let job = try await runner.submit(video: Data([1]), options: TimelineOptions(), idempotency: nil).job
        #expect(try await Self.waitUntil { tries.load(ordering: .relaxed) == 1 })
        _ = try await runner.cancel(job.id)
        #expect(try await Self.waitUntil(seconds: 2) { try await runner.status(job.id)?.state == .cancelled })
        #expect(tries.load(ordering: .relaxed) == 1)
    }

    @Test func aCancelOnTheOtherPodStopsTheWork() async throws {
        let store = InMemoryJobStore(settings: Self.settings())
        let gate = Gate()
        let a = Self.runner(store, pod: "a", gate: gate), b = Self.runner(store, pod: "b", gate: Gate())
        let job = try await a.submit(video: Data([1]), options: TimelineOptions(), idempotency: nil).job
        gate.allowed.store(2, ordering: .relaxed)
        #expect(try await Self.waitUntil { try await b.status(job.id)?.windows_done == 2 })
        let asked = try await b.cancel(job.id)
        #expect(asked?.state == .running && asked?.cancel_requested == true)
        #expect(try await Self.waitUntil { try await b.status(job.id)?.state == .cancelled })
        let sawCancel = gate.sawCancel.load(ordering: .relaxed), done = gate.done.load(ordering: .relaxed)
        #expect(sawCancel && done == 2)
    }

    @Test func theSameKeyOnEitherPodIsOneJobRunOnce() async throws {
        let store = InMemoryJobStore(settings: Self.settings())
        let gate = Gate(), other = Gate()
        let a = Self.runner(store, pod: "a", gate: gate), b = Self.runner(store, pod: "b", gate: other)
        let claim = IdempotencyClaim(scopedKey: "k", fingerprint: "f")
        let first = try await a.submit(video: Data([1]), options: TimelineOptions(), idempotency: claim)
        let second = try await b.submit(video: Data([1]), options: TimelineOptions(), idempotency: claim)
        #expect(first.created && !second.created && first.job.id == second.job.id)
        gate.allowed.store(10, ordering: .relaxed)
        other.allowed.store(10, ordering: .relaxed)
        #expect(try await Self.waitUntil { try await b.status(first.job.id)?.state == .done })
        let ranOnB = other.done.load(ordering: .relaxed)
        #expect(ranOnB == 0, "the second pod ran the job too")
    }
}
