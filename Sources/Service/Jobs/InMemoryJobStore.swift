import Foundation
import Synchronization

/// Jobs in this process's memory: the default for one process. `JobTable` holds the rules; this adds a lock.
public final class InMemoryJobStore: JobStore {
    private let table: Mutex<JobTable>

    public init(settings: JobSettings) {
        table = Mutex(JobTable(settings: settings))
    }

    public func create(_ job: JobRecord, idempotency: IdempotencyClaim?, now: Double) async throws -> (job: JobRecord, created: Bool) {
        try table.withLock { try $0.create(job, idempotency: idempotency, now: now) }
    }

    public func job(_ id: String, now: Double) async throws -> JobRecord? {
        table.withLock { $0.job(id, now: now) }
    }

    public func update(_ id: String, now: Double, _ change: @escaping @Sendable (inout JobRecord) throws -> Void) async throws -> JobRecord? {
        try table.withLock { try $0.update(id, now: now, change) }
    }
}

/// The in-memory store's rules, with the clock passed in: live-job limit, retention, idempotency keys with
/// their TTL. Expired entries are dropped whenever the table is touched.
struct JobTable {
    let settings: JobSettings
    private var jobs: [String: (record: JobRecord, keepUntil: Double)] = [:]
    private var keys: [String: (fingerprint: String, id: String, keepUntil: Double)] = [:]

    init(settings: JobSettings) { self.settings = settings }

    var count: Int { jobs.count }

    mutating func create(_ job: JobRecord, idempotency: IdempotencyClaim?, now: Double) throws -> (job: JobRecord, created: Bool) {
        prune(now: now)
        if let claim = idempotency, let held = keys[claim.scopedKey], let existing = jobs[held.id] {
            guard held.fingerprint == claim.fingerprint else { throw JobError.idempotencyMismatch }
            return (existing.record, false)
        }
        let live = jobs.values.filter { $0.record.isLive(now: now) }.count
        guard live < settings.maxLiveJobs else {
            throw JobError.tooManyJobs(limit: settings.maxLiveJobs, retryAfterSeconds: settings.retryAfterSeconds)
        }
        jobs[job.id] = (job, now + settings.keepSeconds(job, now: now))
        if let claim = idempotency { keys[claim.scopedKey] = (claim.fingerprint, job.id, now + settings.idempotencyTTLSeconds) }
        return (job, true)
    }

    mutating func job(_ id: String, now: Double) -> JobRecord? {
        prune(now: now)
        return jobs[id]?.record
    }

    mutating func update(_ id: String, now: Double, _ change: (inout JobRecord) throws -> Void) throws -> JobRecord? {
        prune(now: now)
        guard var record = jobs[id]?.record else { return nil }
        try change(&record)
        jobs[id] = (record, now + settings.keepSeconds(record, now: now))
        return record
    }

    private mutating func prune(now: Double) {
        jobs = jobs.filter { $0.value.keepUntil > now }
        keys = keys.filter { $0.value.keepUntil > now }
    }
}
