import Foundation
@testable import Service
import Testing

/// Interactive requests against background jobs in the batching policy, with a fake clock.
@Suite struct BatchQueueFairnessTests {
    let held = HeldRequests()

    func request(clips: Int, _ kind: RequestClass) -> PendingRequest {
        PendingRequest(clips: [Float](repeating: 0, count: clips * 2), count: clips, isCancelled: { false },
                       submitted: 0, held: held, requestClass: kind)
    }

    /// The batches run until the queue is empty, each written as its class's initial and size ("b1 i3").
    static func drain(_ queue: inout BatchQueue) -> [String] {
        var batches: [String] = []
        while case .run(let jobs) = queue.step(now: 0, incoming: 0) {
            batches.append("\(jobs[0].request.requestClass == .interactive ? "i" : "b")\(jobs.count)")
            #expect(Set(jobs.map { $0.request.requestClass }).count == 1, "a batch mixes classes")
        }
        return batches
    }

    @Test func interactiveClipsGoFirstAndBackgroundBatchesStaySmall() {
        var queue = BatchQueue(maxBatch: 8, maxDelaySeconds: 0, capacity: 64, backgroundMaxBatch: 1, backgroundEvery: 4, backgroundGraceSeconds: 0)
        _ = queue.admit(request(clips: 3, .background))
        _ = queue.admit(request(clips: 2, .interactive))
        #expect(Self.drain(&queue) == ["i2", "b1", "b1", "b1"])
    }

    @Test func aRequestArrivingDuringAJobWaitsForOneSmallPassAtMost() {
        var queue = BatchQueue(maxBatch: 8, maxDelaySeconds: 0, capacity: 64, backgroundMaxBatch: 1, backgroundEvery: 4, backgroundGraceSeconds: 0)
        _ = queue.admit(request(clips: 8, .background))
        guard case .run(let first) = queue.step(now: 0, incoming: 0) else { Issue.record("no batch"); return }
        #expect(first.count == 1 && first[0].request.requestClass == .background)
        _ = queue.admit(request(clips: 1, .interactive))
        guard case .run(let next) = queue.step(now: 0, incoming: 0) else { Issue.record("no batch"); return }
        #expect(next.count == 1 && next[0].request.requestClass == .interactive)
    }

    @Test func backgroundIsNotStarvedByAStreamOfRequests() {
        var queue = BatchQueue(maxBatch: 2, maxDelaySeconds: 0, capacity: 64, backgroundMaxBatch: 1, backgroundEvery: 3, backgroundGraceSeconds: 0)
        _ = queue.admit(request(clips: 2, .background))
        var batches: [String] = []
        // Interactive requests keep arriving, one two-clip request per pass.
        for _ in 0..<8 {
            _ = queue.admit(request(clips: 2, .interactive))
            guard case .run(let jobs) = queue.step(now: 0, incoming: 0) else { break }
            batches.append("\(jobs[0].request.requestClass == .interactive ? "i" : "b")\(jobs.count)")
        }
        #expect(batches == ["i2", "i2", "i2", "b1", "i2", "i2", "i2", "b1"])
    }

    @Test func theStreakCountsOnlyWhileBackgroundWaits() {
        var queue = BatchQueue(maxBatch: 1, maxDelaySeconds: 0, capacity: 64, backgroundMaxBatch: 1, backgroundEvery: 2, backgroundGraceSeconds: 0)
        _ = queue.admit(request(clips: 5, .interactive))
        #expect(Self.drain(&queue) == ["i1", "i1", "i1", "i1", "i1"])
        // Earlier interactive passes with no job waiting give the job no claim to go first.
        _ = queue.admit(request(clips: 1, .background))
        _ = queue.admit(request(clips: 3, .interactive))
        #expect(Self.drain(&queue) == ["i1", "i1", "b1", "i1"])
    }

    @Test func backgroundBatchesDoNotWaitForMore() {
        var queue = BatchQueue(maxBatch: 8, maxDelaySeconds: 10, capacity: 64, backgroundMaxBatch: 2, backgroundEvery: 4, backgroundGraceSeconds: 0)
        _ = queue.admit(request(clips: 1, .background))
        guard case .run(let jobs) = queue.step(now: 0, incoming: 3) else { Issue.record("a background clip waited"); return }
        #expect(jobs.count == 1)
    }

    @Test func bothClassesShareTheCapacityAndRemoval() {
        var queue = BatchQueue(maxBatch: 8, maxDelaySeconds: 0, capacity: 10, backgroundMaxBatch: 1, backgroundEvery: 4, backgroundGraceSeconds: 0)
        let job = request(clips: 8, .background)
        let first = queue.admit(job), tooMany = queue.admit(request(clips: 3, .interactive))
        let fits = queue.admit(request(clips: 2, .interactive))
        #expect(first && !tooMany && fits)
        #expect(queue.depth == 10)
        let removed = queue.remove(job)
        #expect(removed == 8)
        #expect(Self.drain(&queue) == ["i2"])
    }

    static let ms: UInt64 = 1_000_000

    @Test func backgroundGivesWayToARequestStillDecoding() {
        var queue = BatchQueue(maxBatch: 8, maxDelaySeconds: 0, capacity: 64, backgroundMaxBatch: 1, backgroundEvery: 4,
                               backgroundGraceSeconds: 0.1)
        _ = queue.admit(request(clips: 4, .background))
        #expect(BatchQueueTests.shape(queue.step(now: 0, incoming: 1)) == "wait 100")
        // The request's clips arrive within the grace: they run first.
        _ = queue.admit(request(clips: 1, .interactive))
        guard case .run(let first) = queue.step(now: 40 * Self.ms, incoming: 0) else { Issue.record("no batch"); return }
        #expect(first[0].request.requestClass == .interactive)
        // Just answered: the client's next request may follow; nothing came, so the job goes on after the grace.
        #expect(BatchQueueTests.shape(queue.step(now: 500 * Self.ms, incoming: 0)) == "wait 600")
        guard case .run(let next) = queue.step(now: 600 * Self.ms, incoming: 0) else { Issue.record("no batch"); return }
        #expect(next[0].request.requestClass == .background)
    }

    @Test func theGraceIsBoundedWhateverIsDecoding() {
        var queue = BatchQueue(maxBatch: 8, maxDelaySeconds: 0, capacity: 64, backgroundMaxBatch: 1, backgroundEvery: 4,
                               backgroundGraceSeconds: 0.1)
        _ = queue.admit(request(clips: 2, .background))
        #expect(BatchQueueTests.shape(queue.step(now: 0, incoming: 3)) == "wait 100")
        #expect(BatchQueueTests.shape(queue.step(now: 60 * Self.ms, incoming: 3)) == "wait 100")
        guard case .run(let jobs) = queue.step(now: 100 * Self.ms, incoming: 3) else { Issue.record("held past the grace"); return }
        #expect(jobs[0].request.requestClass == .background)
        // The next background clip gets a grace of its own, not an endless hold.
        #expect(BatchQueueTests.shape(queue.step(now: 900 * Self.ms, incoming: 3)) == "wait 1000")
    }

    @Test func aStreamOfRequestsStillLetsTheJobThroughWithTheGrace() {
        var queue = BatchQueue(maxBatch: 1, maxDelaySeconds: 0, capacity: 64, backgroundMaxBatch: 1, backgroundEvery: 4,
                               backgroundGraceSeconds: 0.1)
        _ = queue.admit(request(clips: 3, .background))
        var batches: [String] = []
        var now: UInt64 = 0
        // A client sending its next request 5 ms after each answer, each pass taking 400 ms.
        for _ in 0..<10 {
            _ = queue.admit(request(clips: 1, .interactive))
            while true {
                let step = queue.step(now: now, incoming: 0)
                if case .run(let jobs) = step {
                    batches.append(jobs[0].request.requestClass == .interactive ? "i" : "b")
                    now += 400 * Self.ms
                    if jobs[0].request.requestClass == .interactive { break }
                } else { Issue.record("stalled: \(BatchQueueTests.shape(step))"); return }
            }
            now += 5 * Self.ms
        }
        #expect(batches.joined() == "iiiibiiiibii")
    }
}
