/// The jobs' limits and timings.
public struct JobSettings: Sendable, Equatable {
    /// Queued and running jobs at most, across every pod sharing the store; one more is refused with 503.
    public var maxLiveJobs = 16
    /// What the 503 tells a client to wait.
    public var retryAfterSeconds = 30
    /// How long a finished job stays readable.
    public var retentionSeconds = 3600.0
    /// A job whose owner has not renewed its lease for this long reads as failed.
    public var leaseSeconds = 30.0
    /// How long an Idempotency-Key keeps naming its job (while the job itself is still kept).
    public var idempotencyTTLSeconds = 86400.0
    /// Jobs one pod runs at once; the rest of its jobs wait queued.
    public var concurrency = 1
    /// Times a job that failed for want of room (a 503: no decode thread free) runs again, after
    /// `retryDelaySeconds` times the attempt's number.
    public var retries = 2
    public var retryDelaySeconds = 2.0

    public init() {}

    /// The owner renews at least three times per lease, so one late renewal does not fail a job, and at least
    /// every second, since each renewal also writes the progress and reads the cancel flag.
    public var renewSeconds: Double { min(1, leaseSeconds / 3) }
}
