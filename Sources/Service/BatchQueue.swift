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
/// batch runs, so a job cannot starve either. A background batch also holds back, for at most
/// `backgroundGrace`, while an interactive request is decoding or one has just been answered (its client's
/// next request is likely on its way): a background pass started in that gap would be waited out whole.
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
    let backgroundGraceNanoseconds: UInt64
    /// The last batch handed out was interactive: the next step marks when it ended.
    private var lastRunInteractive = false
    private var lastInteractiveEnd: UInt64?
    /// When background clips were first held back for interactive ones on their way.
    private var backgroundHeldSince: UInt64?

    init(maxBatch: Int, maxDelaySeconds: Double, capacity: Int, backgroundMaxBatch: Int = 1, backgroundEvery: Int = 4,
         backgroundGraceSeconds: Double = 0.1) {
        self.maxBatch = max(1, maxBatch)
        maxDelayNanoseconds = UInt64(max(0, maxDelaySeconds) * 1e9)
        self.capacity = capacity
        self.backgroundMaxBatch = min(self.maxBatch, max(1, backgroundMaxBatch))
        self.backgroundEvery = max(1, backgroundEvery)
        backgroundGraceNanoseconds = UInt64(max(0, backgroundGraceSeconds) * 1e9)
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
        // Workers step again as soon as a batch is computed, so this is when the last interactive one ended.
        if lastRunInteractive {
            lastInteractiveEnd = now
            lastRunInteractive = false
        }
        if gathering.isEmpty {
            guard let next = nextClass() else {
                backgroundHeldSince = nil
                return .waitForWork
            }
            if next == .background && queued.isEmpty, let until = backgroundHold(now: now, incoming: incoming) { return .wait(until: until) }
            backgroundHeldSince = nil
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
            lastRunInteractive = gatheringClass == .interactive
            return .run(gathering)
        }
        return .wait(until: since + maxDelayNanoseconds)
    }

    /// Until when background clips wait for an interactive request that is decoding or likely to follow the one
    /// just answered; nil when they run now (nothing expected, or held `backgroundGrace` already).
    private mutating func backgroundHold(now: UInt64, incoming: Int) -> UInt64? {
        let since = backgroundHeldSince ?? now
        let holdEnd = since + backgroundGraceNanoseconds
        let afterAnswer = lastInteractiveEnd.map { $0 + backgroundGraceNanoseconds }
        guard now < holdEnd, incoming > 0 || (afterAnswer.map { now < $0 } ?? false) else { return nil }
        backgroundHeldSince = since
        return incoming > 0 ? holdEnd : min(holdEnd, afterAnswer!)
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
