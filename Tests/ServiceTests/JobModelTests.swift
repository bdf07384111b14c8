import Foundation
@testable import Service
import Testing

/// The job model with a fake clock: legal moves, progress, leases, cancellation, ids.
@Suite struct JobModelTests {
    static func job(now: Double = 1000, lease: Double = 30) -> JobRecord {
        JobRecord(id: JobID.make(), owner: "pod-a", now: now, leaseSeconds: lease)
    }

    @Test func onlyTheLegalMovesAreAllowed() {
        let legal: Set<String> = ["queued>running", "queued>failed", "queued>cancelled", "running>done", "running>failed", "running>cancelled"]
        for from in JobState.allCases {
            for to in JobState.allCases {
                #expect(from.canMove(to: to) == legal.contains("\(from.rawValue)>\(to.rawValue)"), "\(from) -> \(to)")
            }
        }
    }

    @Test func aFinishedJobNeverChangesAgain() throws {
        var job = Self.job()
        try job.start(now: 1001, leaseSeconds: 30)
        try job.finish(.done(.string("r")), now: 1002)
        #expect(throws: JobError.self) { try job.finish(.failed("x"), now: 1003) }
        #expect(throws: JobError.self) { try job.renew(now: 1003, leaseSeconds: 30, windowsDone: 1, windowsTotal: 2) }
        job.requestCancel(now: 1004)
        #expect(job.state == .done && job.result == .string("r") && job.finished_s == 1002 && !job.cancel_requested)
    }

    @Test func progressComesFromTheWindowsDone() throws {
        var job = Self.job()
        #expect(job.progress == 0)
        try job.start(now: 1001, leaseSeconds: 30)
        try job.renew(now: 1002, leaseSeconds: 30, windowsDone: 3, windowsTotal: 12)
        #expect(job.progress == 0.25)
        // A late heartbeat never moves progress backwards.
        try job.renew(now: 1003, leaseSeconds: 30, windowsDone: 2, windowsTotal: 12)
        #expect(job.progress == 0.25)
        try job.finish(.done(.null), now: 1004)
        #expect(job.progress == 1 && job.windows_done == 12)
    }

    @Test func aJobWhoseLeaseExpiredReadsAsFailed() throws {
        var job = Self.job(now: 1000, lease: 10)
        try job.start(now: 1001, leaseSeconds: 10)
        try job.renew(now: 1009, leaseSeconds: 10, windowsDone: 1, windowsTotal: 4)
        #expect(job.effective(now: 1019).state == .running)
        let seen = job.effective(now: 1019.5)
        #expect(seen.state == .failed && seen.error == JobRecord.ownerGone && seen.finished_s == 1019)
        #expect(!job.isLive(now: 1019.5))
        // The owner coming back after that cannot resurrect or finish it.
        #expect(throws: JobError.self) { try job.renew(now: 1020, leaseSeconds: 10, windowsDone: 2, windowsTotal: 4) }
        #expect(throws: JobError.self) { try job.finish(.done(.null), now: 1020) }
    }

    @Test func aQueuedJobsLeaseCountsToo() {
        let job = Self.job(now: 1000, lease: 5)
        #expect(job.effective(now: 1006).state == .failed)
    }

    @Test func cancellingAQueuedJobCancelsItAndItsOwnerCannotStartIt() {
        var job = Self.job()
        job.requestCancel(now: 1001)
        #expect(job.state == .cancelled && job.finished_s == 1001)
        #expect(throws: JobError.self) { try job.start(now: 1002, leaseSeconds: 30) }
    }

    @Test func cancellingARunningJobFlagsItForItsOwner() throws {
        var job = Self.job()
        try job.start(now: 1001, leaseSeconds: 30)
        job.requestCancel(now: 1002)
        #expect(job.state == .running && job.cancel_requested)
        try job.finish(.cancelled, now: 1003)
        #expect(job.state == .cancelled)
    }

    @Test func idsAreLongRandomAndURLSafe() {
        var seen = Set<String>()
        for _ in 0..<2000 {
            let id = JobID.make()
            #expect(JobID.isWellFormed(id))
            #expect(id.utf8.allSatisfy { $0 < 128 && (Character(Unicode.Scalar($0)).isLetter || Character(Unicode.Scalar($0)).isNumber || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")) })
            seen.insert(id)
        }
        #expect(seen.count == 2000)
        #expect(JobID.bytes * 8 >= 128)
        // Every character position takes many values: the bits are spread over the whole id.
        let ids = Array(seen)
        for position in 0..<JobID.length {
            let values = Set(ids.map { Array($0.utf8)[position] })
            #expect(values.count > 40, "position \(position)")
        }
        #expect(!JobID.isWellFormed("short"))
        #expect(!JobID.isWellFormed(String(repeating: "a", count: 23) + "/"))
    }
}

/// A clock the test moves by hand.
final class FakeClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Double
    init(_ start: Double) { value = start }
    var now: Double { lock.withLock { value } }
    func advance(_ seconds: Double) { lock.withLock { value += seconds } }
}

/// The store's rules, run against any `JobStore`: here the in-memory one with a fake clock; `RedisJobStoreTests`
/// runs the same checks against a real Redis server.
enum JobStoreChecks {
    static func settings(maxLive: Int = 2) -> JobSettings {
        var s = JobSettings()
        s.maxLiveJobs = maxLive
        s.retentionSeconds = 60
        s.leaseSeconds = 10
        s.idempotencyTTLSeconds = 120
        return s
    }

    static func claim(_ key: String, _ fingerprint: String = "f1") -> IdempotencyClaim {
        IdempotencyClaim(scopedKey: key, fingerprint: fingerprint)
    }

    static func idempotencyGivesTheSameJob(_ store: any JobStore, now: Double) async throws {
        let first = try await store.create(JobRecord(id: JobID.make(), owner: "a", now: now, leaseSeconds: 10),
                                           idempotency: claim("k-\(now)"), now: now)
        let again = try await store.create(JobRecord(id: JobID.make(), owner: "b", now: now + 1, leaseSeconds: 10),
                                           idempotency: claim("k-\(now)"), now: now + 1)
        #expect(first.created && !again.created && again.job.id == first.job.id && again.job.owner == "a")
        await #expect(throws: JobError.idempotencyMismatch) {
            try await store.create(JobRecord(id: JobID.make(), owner: "b", now: now + 1, leaseSeconds: 10),
                                   idempotency: claim("k-\(now)", "other"), now: now + 1)
        }
    }

    static func liveJobsAreBounded(_ store: any JobStore, now: Double) async throws {
        let a = try await store.create(JobRecord(id: JobID.make(), owner: "a", now: now, leaseSeconds: 10), idempotency: nil, now: now)
        _ = try await store.create(JobRecord(id: JobID.make(), owner: "a", now: now, leaseSeconds: 10), idempotency: nil, now: now)
        await #expect(throws: JobError.tooManyJobs(limit: 2, retryAfterSeconds: 30)) {
            try await store.create(JobRecord(id: JobID.make(), owner: "a", now: now, leaseSeconds: 10), idempotency: nil, now: now)
        }
        // A finished job frees its place.
        _ = try await store.update(a.job.id, now: now + 1) { try $0.start(now: now + 1, leaseSeconds: 10) }
        _ = try await store.update(a.job.id, now: now + 2) { try $0.finish(.done(.number(1)), now: now + 2) }
        let c = try await store.create(JobRecord(id: JobID.make(), owner: "a", now: now + 2, leaseSeconds: 10), idempotency: nil, now: now + 2)
        #expect(c.created)
        #expect(try await store.job(a.job.id, now: now + 3)?.result == .number(1))
    }

    static func aDeadOwnersJobsFreeTheirPlaces(_ store: any JobStore, now: Double) async throws {
        _ = try await store.create(JobRecord(id: JobID.make(), owner: "a", now: now, leaseSeconds: 10), idempotency: nil, now: now)
        _ = try await store.create(JobRecord(id: JobID.make(), owner: "a", now: now, leaseSeconds: 10), idempotency: nil, now: now)
        let later = try await store.create(JobRecord(id: JobID.make(), owner: "b", now: now + 11, leaseSeconds: 10), idempotency: nil, now: now + 11)
        #expect(later.created)
    }

    static func updatesThatThrowChangeNothing(_ store: any JobStore, now: Double) async throws {
        let a = try await store.create(JobRecord(id: JobID.make(), owner: "a", now: now, leaseSeconds: 10), idempotency: nil, now: now)
        await #expect(throws: JobError.self) {
            try await store.update(a.job.id, now: now) { try $0.finish(.done(.null), now: now) }
        }
        #expect(try await store.job(a.job.id, now: now)?.state == .queued)
        #expect(try await store.update(JobID.make(), now: now) { $0.requestCancel(now: now) } == nil)
        #expect(try await store.job(JobID.make(), now: now) == nil)
    }
}

@Suite struct InMemoryJobStoreTests {
    let clock = FakeClock(1_000_000)

    @Test func idempotencyGivesTheSameJob() async throws {
        try await JobStoreChecks.idempotencyGivesTheSameJob(InMemoryJobStore(settings: JobStoreChecks.settings()), now: clock.now)
    }

    @Test func liveJobsAreBounded() async throws {
        try await JobStoreChecks.liveJobsAreBounded(InMemoryJobStore(settings: JobStoreChecks.settings()), now: clock.now)
    }

    @Test func aDeadOwnersJobsFreeTheirPlaces() async throws {
        try await JobStoreChecks.aDeadOwnersJobsFreeTheirPlaces(InMemoryJobStore(settings: JobStoreChecks.settings()), now: clock.now)
    }

    @Test func updatesThatThrowChangeNothing() async throws {
        try await JobStoreChecks.updatesThatThrowChangeNothing(InMemoryJobStore(settings: JobStoreChecks.settings()), now: clock.now)
    }

    @Test func finishedJobsAreKeptForTheRetentionThenForgotten() async throws {
        let store = InMemoryJobStore(settings: JobStoreChecks.settings())
        let t = clock.now
        let a = try await store.create(JobRecord(id: JobID.make(), owner: "a", now: t, leaseSeconds: 10), idempotency: JobStoreChecks.claim("k"), now: t)
        _ = try await store.update(a.job.id, now: t + 1) { $0.requestCancel(now: t + 1) }
        #expect(try await store.job(a.job.id, now: t + 60.5)?.state == .cancelled)
        #expect(try await store.job(a.job.id, now: t + 61.5) == nil)
        // The key outlives the job it named: a replay now makes a new job.
        let replay = try await store.create(JobRecord(id: JobID.make(), owner: "a", now: t + 62, leaseSeconds: 10),
                                            idempotency: JobStoreChecks.claim("k"), now: t + 62)
        #expect(replay.created && replay.job.id != a.job.id)
    }

    @Test func aDeadOwnersJobReadsFailedUntilTheRetentionEnds() async throws {
        let store = InMemoryJobStore(settings: JobStoreChecks.settings())
        let t = clock.now
        let a = try await store.create(JobRecord(id: JobID.make(), owner: "a", now: t, leaseSeconds: 10), idempotency: nil, now: t)
        _ = try await store.update(a.job.id, now: t + 1) { try $0.start(now: t + 1, leaseSeconds: 10) }
        #expect(try await store.job(a.job.id, now: t + 12)?.effective(now: t + 12).state == .failed)
        #expect(try await store.job(a.job.id, now: t + 70) != nil)
        #expect(try await store.job(a.job.id, now: t + 72) == nil)
    }

    @Test func idempotencyKeysExpire() async throws {
        let store = InMemoryJobStore(settings: JobStoreChecks.settings(maxLive: 10))
        let t = clock.now
        let a = try await store.create(JobRecord(id: JobID.make(), owner: "a", now: t, leaseSeconds: 10), idempotency: JobStoreChecks.claim("k"), now: t)
        // Keep the job alive past the key's TTL.
        for s in stride(from: 5.0, through: 125, by: 5) {
            _ = try await store.update(a.job.id, now: t + s) { try $0.renew(now: t + s, leaseSeconds: 10, windowsDone: 0, windowsTotal: 0) }
        }
        let replay = try await store.create(JobRecord(id: JobID.make(), owner: "a", now: t + 125, leaseSeconds: 10),
                                            idempotency: JobStoreChecks.claim("k"), now: t + 125)
        #expect(replay.created)
    }
}
