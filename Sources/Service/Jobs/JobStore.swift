import Foundation

/// A claim on an Idempotency-Key: the key, scoped to its caller, and a fingerprint of the request it came
/// with, so a replay gets the same job and a different request under the same key is refused.
public struct IdempotencyClaim: Sendable, Equatable {
    /// Caller scope and key, hashed: what the store files the job under.
    public let scopedKey: String
    public let fingerprint: String

    public init(scopedKey: String, fingerprint: String) {
        self.scopedKey = scopedKey
        self.fingerprint = fingerprint
    }
}

/// Where jobs live: their state, progress, result and cancel flag. The default keeps them in this process;
/// `RedisJobStore` shares them between pods, so a poll can land on any of them. Every method reads and
/// writes atomically: two pods changing one job never lose either change.
public protocol JobStore: Sendable {
    /// Files `job` (queued), unless `idempotency` already names a kept job: then that job.
    /// - Returns: the job, and whether it was created now.
    /// - Throws: `JobError.tooManyJobs` when `settings.maxLiveJobs` jobs are live; `.idempotencyMismatch`;
    ///   `.storeUnavailable`.
    func create(_ job: JobRecord, idempotency: IdempotencyClaim?, now: Double) async throws -> (job: JobRecord, created: Bool)

    /// The job as stored (not yet `effective`), or nil once it is unknown or past its retention.
    func job(_ id: String, now: Double) async throws -> JobRecord?

    /// Applies `change` to the stored job atomically; what `change` throws leaves the job as it was.
    /// - Returns: the job after the change, or nil if it is unknown.
    func update(_ id: String, now: Double, _ change: @escaping @Sendable (inout JobRecord) throws -> Void) async throws -> JobRecord?
}

/// Where a store's keeping times come from.
extension JobSettings {
    /// How long a job's record must be kept from `now`: while live, until its lease ends plus the retention
    /// (a dead owner's job still reads failed that long); once finished, the retention from its end.
    func keepSeconds(_ job: JobRecord, now: Double) -> Double {
        let end = job.state.isFinished ? (job.finished_s ?? now) : job.lease_expires_s
        return max(0.001, end + retentionSeconds - now)
    }
}
