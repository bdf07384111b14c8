import Foundation
import HTTPServer
import Logging
import Synchronization

/// A job's work: a video and timeline options in, the classification out. It reports windows done and the
/// total as it goes, and stops (throwing) once `isCancelled` turns true.
public typealias JobWork = @Sendable (_ video: Data, _ options: TimelineOptions,
                                      _ progress: @escaping @Sendable (_ done: Int, _ total: Int) -> Void,
                                      _ isCancelled: @escaping @Sendable () -> Bool) async throws -> Classification

/// Takes jobs on this pod and runs them: files each in the store, runs at most `settings.concurrency` at a
/// time, renews their leases with their progress, notices cancels made on any pod, and writes how they ended.
public final class JobRunner: Sendable {
    let store: any JobStore
    let settings: JobSettings
    /// This pod's name in the jobs it owns.
    public let pod: String
    private let work: JobWork
    private let clock: @Sendable () -> Double
    private let slots: JobSlots
    private let metrics: MetricsRegistry
    private let logger: Logger
    private let local = Mutex<[String: LocalJob]>([:])
    /// The server's body budget: a job keeps its upload in memory until it ends, so it counts there beside the
    /// request bodies, and queued jobs and uploads together stay within `--max-buffered-upload-mb`.
    private let uploads: BodyBudget?

    public init(store: any JobStore, settings: JobSettings, pod: String = JobRunner.podName(), metrics: MetricsRegistry,
                logger: Logger, clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
                uploads: BodyBudget? = nil, work: @escaping JobWork) {
        self.store = store
        self.uploads = uploads
        self.settings = settings
        self.pod = pod
        self.work = work
        self.clock = clock
        self.metrics = metrics
        self.logger = logger
        slots = JobSlots(settings.concurrency)
        metrics.counter(MetricName.jobs, help: "Jobs this pod took, and how they went on: by state reached (queued, running, done, failed, cancelled).")
        for state in [JobState.queued, .running] {
            metrics.gauge(MetricName.jobsLive, help: "Jobs this pod holds now, by state.", labels: ["state": state.rawValue]) { [weak self] in
                Double(self?.local.withLock { $0.values.filter { $0.state == state }.count } ?? 0)
            }
        }
    }

    /// The host name and process id: unique among pods sharing a store.
    public static func podName() -> String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Files a job and starts it here, or returns the job `idempotency` already names.
    /// - Throws: `JobError.tooManyJobs`, `.idempotencyMismatch`, `.storeUnavailable`.
    public func submit(video: Data, options: TimelineOptions, idempotency: IdempotencyClaim?) async throws -> (job: JobRecord, created: Bool) {
        if let uploads, !uploads.reserve(video.count) {
            throw ServiceError.overloaded(BodyBudget.refusal)
        }
        var kept = false
        defer { if !kept { uploads?.release(video.count) } }
        let now = clock()
        let record = JobRecord(id: JobID.make(), owner: pod, now: now, leaseSeconds: settings.leaseSeconds)
        let filed = try await store.create(record, idempotency: idempotency, now: now)
        guard filed.created else { return (filed.job.effective(now: clock()), false) }
        metrics.increment(MetricName.jobs, labels: ["state": "queued"])
        let job = LocalJob()
        local.withLock { $0[record.id] = job }
        kept = true
        Task.detached { [self] in
            await run(record.id, job: job, video: video, options: options)
            uploads?.release(video.count)
        }
        return filed
    }

    /// The job as any pod would see it now, or nil if unknown.
    public func status(_ id: String) async throws -> JobRecord? {
        try await store.job(id, now: clock())?.effective(now: clock())
    }

    /// Cancels a queued job, or asks a running one's owner to stop. - Returns: the job after it, nil if unknown.
    public func cancel(_ id: String) async throws -> JobRecord? {
        let now = clock()
        let job = try await store.update(id, now: now) { $0.requestCancel(now: now) }
        local.withLock { $0[id] }?.cancelRequested.store(true, ordering: .releasing)
        return job?.effective(now: clock())
    }

    /// Stops this pod's jobs for a shutdown: each ends failed (its client should submit it again) rather than
    /// running on while the process exits under it. Waits up to `seconds` for them to stop.
    public func shutdown(waitingUpTo seconds: Double) {
        let jobs = local.withLock { Array($0.values) }
        for job in jobs {
            job.stopping.store(true, ordering: .releasing)
            job.cancelRequested.store(true, ordering: .releasing)
        }
        let deadline = Date().addingTimeInterval(seconds)
        while local.withLock({ !$0.isEmpty }) && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
    }

    /// What a job stopped by its pod's shutdown reads as.
    public static let podShutDown = "the pod running it shut down before it finished; submit it again"

    private func run(_ id: String, job: LocalJob, video: Data, options: TimelineOptions) async {
        let heartbeat = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(settings.renewSeconds * 1e9))
                guard !Task.isCancelled else { return }
                await beat(id, job: job)
            }
        }
        defer {
            heartbeat.cancel()
            local.withLock { $0[id] = nil }
        }
        await slots.acquire()
        defer { Task { await slots.release() } }
        let startedAt = clock()
        do {
            _ = try await store.update(id, now: startedAt) { [settings] in try $0.start(now: startedAt, leaseSeconds: settings.leaseSeconds) }
        } catch {
            // Cancelled while it waited, or its lease lapsed: nothing to run.
            if case JobError.illegalTransition(_, .cancelled, _) = error { metrics.increment(MetricName.jobs, labels: ["state": "cancelled"]) }
            return
        }
        job.state = .running
        metrics.increment(MetricName.jobs, labels: ["state": "running"])
        let outcome = await runWork(id, job: job, video: video, options: options)
        let (done, total) = job.windows
        let endedAt = clock()
        do {
            _ = try await store.update(id, now: endedAt) { [settings] in
                try $0.renew(now: endedAt, leaseSeconds: settings.leaseSeconds, windowsDone: done, windowsTotal: total)
                try $0.finish(outcome, now: endedAt)
            }
            metrics.increment(MetricName.jobs, labels: ["state": Self.name(outcome)])
        } catch {
            logger.warning("job outcome not recorded", metadata: ["job.id": "\(id)", "error": "\(error)"])
        }
    }

    /// The work's outcome. A failure for want of room (503: no decode thread free) runs the work again after a
    /// pause, up to `settings.retries` times, as a client of the synchronous routes would retry. Not the server's
    /// memory running out: the job's own decode would likely be the largest again. A cancel or a shutdown ends
    /// the pause.
    private func runWork(_ id: String, job: LocalJob, video: Data, options: TimelineOptions) async -> JobOutcome {
        var attempt = 0
        let stopped: @Sendable () -> Bool = { job.cancelRequested.load(ordering: .acquiring) }
        // A job stopped by its pod's shutdown (which also sets the cancel flag), or cancelled.
        let stoppedOutcome = { job.stopping.load(ordering: .acquiring) ? JobOutcome.failed(Self.podShutDown) : .cancelled }
        while true {
            do {
                let answer = try await work(video, options, { done, total in job.progress(done, total) }, stopped)
                return stopped() ? .cancelled : .done(try JSONValue(encoding: answer))
            } catch let error as ServiceError where error.status == .serviceUnavailable && error != .outOfMemory
                && attempt < settings.retries && !stopped() {
                attempt += 1
                logger.info("job runs again", metadata: ["job.id": "\(id)", "attempt": "\(attempt + 1)", "error": "\(error.detail)"])
                let resume = clock() + max(0, settings.retryDelaySeconds) * Double(attempt)
                while clock() < resume && !stopped() { try? await Task.sleep(nanoseconds: 20_000_000) }
                if stopped() { return stoppedOutcome() }
            } catch {
                if stopped() || job.stopping.load(ordering: .acquiring) { return stoppedOutcome() }
                if let error = error as? ServiceError { return .failed(error.detail) }
                logger.error("job failed", metadata: ["job.id": "\(id)", "error": "\(error)"])
                return .failed("internal error; the job id identifies it in the logs")
            }
        }
    }

    /// Renews the lease with the progress so far, and picks up a cancel asked for on another pod.
    private func beat(_ id: String, job: LocalJob) async {
        let (done, total) = job.windows
        let now = clock()
        do {
            let seen = try await store.update(id, now: now) { [settings] in
                try $0.renew(now: now, leaseSeconds: settings.leaseSeconds, windowsDone: done, windowsTotal: total)
            }
            if seen?.cancel_requested == true || seen == nil { job.cancelRequested.store(true, ordering: .releasing) }
        } catch JobError.illegalTransition {
            // Finished or failed elsewhere (a cancel of a queued job): stop.
            job.cancelRequested.store(true, ordering: .releasing)
        } catch {
            logger.warning("job lease not renewed", metadata: ["job.id": "\(id)", "error": "\(error)"])
        }
    }

    static func name(_ outcome: JobOutcome) -> String {
        switch outcome {
        case .done: "done"
        case .failed: "failed"
        case .cancelled: "cancelled"
        }
    }
}

/// What this pod knows of a job it runs, between heartbeats: the work's progress and the cancel flag.
final class LocalJob: Sendable {
    let cancelRequested = Atomic<Bool>(false)
    /// Set with `cancelRequested` when the pod shuts down: the job then ends failed, not cancelled.
    let stopping = Atomic<Bool>(false)
    private let counts = Mutex<(done: Int, total: Int, state: JobState)>((0, 0, .queued))

    var windows: (Int, Int) { counts.withLock { ($0.done, $0.total) } }
    var state: JobState {
        get { counts.withLock { $0.state } }
        set { counts.withLock { $0.state = newValue } }
    }

    func progress(_ done: Int, _ total: Int) { counts.withLock { $0.done = done; $0.total = total } }
}

/// At most `count` jobs run at once on this pod; the rest wait their turn in arrival order.
actor JobSlots {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { free = max(1, count) }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }
}

extension ClassificationService {
    /// The store `configuration.jobsStore` names. - Throws: `JobError.storeUnavailable` for anything else.
    static func jobStore(_ configuration: ServiceConfiguration) throws -> any JobStore {
        if configuration.jobsStore == "memory" { return InMemoryJobStore(settings: configuration.jobs) }
        if configuration.jobsStore.hasPrefix("redis://") { return try RedisJobStore(url: configuration.jobsStore, settings: configuration.jobs) }
        throw JobError.storeUnavailable("--jobs-store must be memory or redis://host:port[/db], got '\(configuration.jobsStore)'")
    }
}
