/// The batching policy with no threads and no clock: which clips run together, and how long to wait for more.
///
/// Clips from every request enter one bounded FIFO, so requests are served in arrival order and a request's
/// clips may span batches. A worker gathers up to `maxBatch` clips; once it holds one, it waits at most
/// `maxDelay` for more, and only while `incoming` says clips are on their way (a request that is not yet
/// decoding cannot make it within the delay).
///
/// Background clips (jobs) wait in a queue of their own and never share a batch with interactive ones, which
/// would lengthen the interactive request's pass. Interactive batches go first; background batches hold at most
/// `backgroundMaxBatch` clips, so an interactive request that arrives during one waits for a short pass only;
/// and after `backgroundEvery` interactive batches in a row with background clips waiting, one background
/// batch runs, so a job cannot starve either.
struct BatchQueue {
    struct Job {
        let request: PendingRequest
        let clip: Int
    }

    /// What a worker does next.
    enum Step {
        case run([Job])
        /// Nothing queued: sleep until a request arrives.
        case waitForWork
        /// Holding clips: sleep until more arrive or `until` (nanoseconds on the caller's clock).
        case wait(until: UInt64)
    }

    let maxBatch: Int
    let maxDelayNanoseconds: UInt64
    let capacity: Int
    let backgroundMaxBatch: Int
    let backgroundEvery: Int
    private var queued: [Job] = []
    private var background: [Job] = []
    private var gathering: [Job] = []
    private var gatheringSince: UInt64?
    private var gatheringClass = RequestClass.interactive
    /// Interactive batches run in a row while background clips waited.
    private var interactiveStreak = 0

    init(maxBatch: Int, maxDelaySeconds: Double, capacity: Int, backgroundMaxBatch: Int = 1, backgroundEvery: Int = 4) {
        self.maxBatch = max(1, maxBatch)
        maxDelayNanoseconds = UInt64(max(0, maxDelaySeconds) * 1e9)
        self.capacity = capacity
        self.backgroundMaxBatch = min(self.maxBatch, max(1, backgroundMaxBatch))
        self.backgroundEvery = max(1, backgroundEvery)
    }

    /// Clips waiting, not counting those a worker has gathered.
    var depth: Int { queued.count + background.count }

    /// Queues every clip of `request`, or none when they do not all fit.
    mutating func admit(_ request: PendingRequest) -> Bool {
        guard depth + request.count <= capacity else { return false }
        let jobs = (0..<request.count).map { Job(request: request, clip: $0) }
        switch request.requestClass {
        case .interactive: queued += jobs
        case .background: background += jobs
        }
        return true
    }

    /// Takes `request`'s clips out of the queue (its deadline passed). - Returns: how many were removed.
    mutating func remove(_ request: PendingRequest) -> Int {
        let before = depth + gathering.count
        queued.removeAll { $0.request === request }
        background.removeAll { $0.request === request }
        gathering.removeAll { $0.request === request }
        if gathering.isEmpty { gatheringSince = nil }
        return before - depth - gathering.count
    }

    /// The class the next batch serves, when no batch is being gathered.
    private func nextClass() -> RequestClass? {
        if !queued.isEmpty && (background.isEmpty || interactiveStreak < backgroundEvery) { return .interactive }
        return background.isEmpty ? nil : .background
    }

    /// - Parameters:
    ///   - now: the clock, in nanoseconds.
    ///   - incoming: requests admitted upstream but not yet queued (decoding, say).
    mutating func step(now: UInt64, incoming: Int) -> Step {
        if gathering.isEmpty {
            guard let next = nextClass() else { return .waitForWork }
            gatheringClass = next
        }
        switch gatheringClass {
        case .interactive:
            let take = min(maxBatch - gathering.count, queued.count)
            if take > 0 {
                gathering += queued.prefix(take)
                queued.removeFirst(take)
            }
        case .background:
            // A job's clips are all queued at once: nothing is worth waiting for.
            let take = min(backgroundMaxBatch, background.count)
            gathering += background.prefix(take)
            background.removeFirst(take)
        }
        guard !gathering.isEmpty else { return .waitForWork }
        let since = gatheringSince ?? now
        gatheringSince = since
        if gatheringClass == .background || gathering.count >= maxBatch || incoming == 0 || now >= since + maxDelayNanoseconds {
            defer {
                gathering = []
                gatheringSince = nil
            }
            if gatheringClass == .background { interactiveStreak = 0 } else if !background.isEmpty { interactiveStreak += 1 }
            return .run(gathering)
        }
        return .wait(until: since + maxDelayNanoseconds)
    }

    /// Splits a batch about to run: clips whose client went away, clips whose request already ended (its
    /// deadline passed), and the rest. A gone client counts first, so its other clips are not deadline drops.
    static func sort(_ jobs: [Job]) -> (live: [Job], clientGone: [Job], expired: [Job]) {
        var live: [Job] = [], gone: [Job] = [], expired: [Job] = []
        for job in jobs {
            if job.request.isCancelled() { gone.append(job) } else if job.request.isFinished { expired.append(job) } else { live.append(job) }
        }
        return (live, gone, expired)
    }
}
