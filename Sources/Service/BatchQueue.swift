/// The batching policy with no threads and no clock: which clips run together, and how long to wait for more.
///
/// Clips from every request enter one bounded FIFO, so requests are served in arrival order and a request's
/// clips may span batches. A worker gathers up to `maxBatch` clips; once it holds one, it waits at most
/// `maxDelay` for more, and only while `incoming` says clips are on their way (a request that is not yet
/// decoding cannot make it within the delay).
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
    private var queued: [Job] = []
    private var gathering: [Job] = []
    private var gatheringSince: UInt64?

    init(maxBatch: Int, maxDelaySeconds: Double, capacity: Int) {
        self.maxBatch = max(1, maxBatch)
        maxDelayNanoseconds = UInt64(max(0, maxDelaySeconds) * 1e9)
        self.capacity = capacity
    }

    /// Clips waiting, not counting those a worker has gathered.
    var depth: Int { queued.count }

    /// Queues every clip of `request`, or none when they do not all fit.
    mutating func admit(_ request: PendingRequest) -> Bool {
        guard queued.count + request.count <= capacity else { return false }
        for clip in 0..<request.count { queued.append(Job(request: request, clip: clip)) }
        return true
    }

    /// Takes `request`'s clips out of the queue (its deadline passed). - Returns: how many were removed.
    mutating func remove(_ request: PendingRequest) -> Int {
        let before = queued.count + gathering.count
        queued.removeAll { $0.request === request }
        gathering.removeAll { $0.request === request }
        if gathering.isEmpty { gatheringSince = nil }
        return before - queued.count - gathering.count
    }

    /// - Parameters:
    ///   - now: the clock, in nanoseconds.
    ///   - incoming: requests admitted upstream but not yet queued (decoding, say).
    mutating func step(now: UInt64, incoming: Int) -> Step {
        let take = min(maxBatch - gathering.count, queued.count)
        if take > 0 {
            gathering += queued.prefix(take)
            queued.removeFirst(take)
        }
        guard !gathering.isEmpty else { return .waitForWork }
        let since = gatheringSince ?? now
        gatheringSince = since
        if gathering.count >= maxBatch || incoming == 0 || now >= since + maxDelayNanoseconds {
            defer {
                gathering = []
                gatheringSince = nil
            }
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
