import Foundation

/// One job as the store holds it; every change goes through the methods below, which refuse illegal moves.
/// Times are wall-clock seconds since 1970, since pods compare them with each other's leases.
public struct JobRecord: Codable, Sendable, Equatable {
    public var id: String
    public var state: JobState
    public var windows_done = 0
    /// 0 until the video's length is known.
    public var windows_total = 0
    public var created_s: Double
    public var updated_s: Double
    public var finished_s: Double?
    /// The pod that took the job and runs it; only it changes state, progress and lease.
    public var owner: String
    /// The owner renews this while the job is queued or running; past it, the job reads as failed.
    public var lease_expires_s: Double
    /// Set by any pod (DELETE); the owner sees it on its next renewal and stops.
    public var cancel_requested = false
    public var result: JSONValue?
    public var error: String?

    /// What a job whose owner stopped renewing its lease reads as.
    public static let ownerGone = "the pod running it stopped before it finished; submit it again"

    public init(id: String, owner: String, now: Double, leaseSeconds: Double) {
        self.id = id
        state = .queued
        created_s = now
        updated_s = now
        self.owner = owner
        lease_expires_s = now + leaseSeconds
    }

    /// 0 to 1 from the windows done; 1 once done.
    public var progress: Double {
        if state == .done { return 1 }
        guard windows_total > 0 else { return 0 }
        return min(1, Double(windows_done) / Double(windows_total))
    }

    /// Not finished, and its lease not expired at `now`.
    public func isLive(now: Double) -> Bool { !state.isFinished && now <= lease_expires_s }

    /// The job as a reader sees it at `now`: one whose lease expired before it finished is failed, whatever
    /// its owner last wrote, since nobody will ever finish it.
    public func effective(now: Double) -> JobRecord {
        guard !state.isFinished, now > lease_expires_s else { return self }
        var job = self
        job.state = .failed
        job.error = Self.ownerGone
        job.finished_s = lease_expires_s
        job.updated_s = lease_expires_s
        return job
    }

    /// - Throws: `JobError.illegalTransition` when `next` is not a legal move from the current state, or the
    ///   lease already expired (the job reads as failed).
    mutating func move(to next: JobState, now: Double) throws {
        let current = effective(now: now).state
        guard current.canMove(to: next) else { throw JobError.illegalTransition(id: id, from: current, to: next) }
        state = next
        updated_s = now
        if next.isFinished { finished_s = now }
    }

    /// Queued -> running, unless cancelled meanwhile. - Throws: `JobError.illegalTransition`.
    mutating func start(now: Double, leaseSeconds: Double) throws {
        if cancel_requested, state == .queued {
            try move(to: .cancelled, now: now)
            throw JobError.illegalTransition(id: id, from: .cancelled, to: .running)
        }
        try move(to: .running, now: now)
        lease_expires_s = now + leaseSeconds
    }

    /// The owner's heartbeat: a new lease and the progress so far. - Throws: `JobError.illegalTransition` if
    /// the job is finished or its lease already expired (another reader has seen it failed).
    mutating func renew(now: Double, leaseSeconds: Double, windowsDone: Int, windowsTotal: Int) throws {
        let current = effective(now: now).state
        guard !current.isFinished else { throw JobError.illegalTransition(id: id, from: current, to: state) }
        lease_expires_s = now + leaseSeconds
        windows_done = max(windows_done, windowsDone)
        windows_total = max(windows_total, windowsTotal)
        updated_s = now
    }

    mutating func finish(_ outcome: JobOutcome, now: Double) throws {
        switch outcome {
        case .done(let result):
            try move(to: .done, now: now)
            self.result = result
            windows_done = windows_total
        case .failed(let detail):
            try move(to: .failed, now: now)
            error = detail
        case .cancelled:
            try move(to: .cancelled, now: now)
        }
    }

    /// A cancel from any pod: a queued job is cancelled at once (its owner will not start it); a running one is
    /// flagged for its owner to stop; a finished one is left as it is.
    mutating func requestCancel(now: Double) {
        switch effective(now: now).state {
        case .queued:
            cancel_requested = true
            try? move(to: .cancelled, now: now)
        case .running:
            cancel_requested = true
            updated_s = now
        default:
            break
        }
    }
}

/// How a job ended.
public enum JobOutcome: Sendable, Equatable {
    case done(JSONValue)
    case failed(String)
    case cancelled
}
