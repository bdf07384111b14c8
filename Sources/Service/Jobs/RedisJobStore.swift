import Foundation

/// Jobs in Redis, shared by every pod: any pod answers a poll, while the work stays on the pod that took the job.
///
/// Keys (`prefix` is `r2plus1d` unless told otherwise):
///   `{prefix}:job:{id}`    the job record as JSON, with a PX expiry: its lease end (or finish) plus the retention,
///                          so Redis itself forgets finished jobs, and a dead pod's job after it has read failed.
///   `{prefix}:live`        sorted set of live job ids scored by lease end (ms): the live-job limit counts the
///                          members whose lease has not ended.
///   `{prefix}:idem:{key}`  "fingerprint id" for an Idempotency-Key, with its TTL.
/// Creation is one Lua script (limit, key and record together); updates are WATCH/MULTI/EXEC, retried when
/// another pod wrote the job in between.
public final class RedisJobStore: JobStore, @unchecked Sendable {
    let settings: JobSettings
    let prefix: String
    // One connection, used from one serial queue: commands of a transaction never interleave with others.
    private let connection: RedisConnection
    private let queue = DispatchQueue(label: "r2plus1d.jobs.redis")

    /// Connects and checks the server answers, so a wrong address fails at start.
    /// - Throws: `JobError.storeUnavailable`.
    public init(url: String, settings: JobSettings, prefix: String = "r2plus1d") throws {
        self.settings = settings
        self.prefix = prefix
        connection = RedisConnection(address: try RedisAddress(url))
        let reply = try connection.send([["PING"]])
        guard reply.first == .simple("PONG") else { throw JobError.storeUnavailable("redis answered PING with \(reply)") }
    }

    private func jobKey(_ id: String) -> String { "\(prefix):job:\(id)" }
    private var liveKey: String { "\(prefix):live" }
    private static func ms(_ seconds: Double) -> String { "\(Int64((seconds * 1000).rounded(.up)))" }

    private func run<T: Sendable>(_ body: @escaping @Sendable (RedisConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [connection] in continuation.resume(with: Result { try body(connection) }) }
        }
    }

    static let createScript = """
        if KEYS[3] ~= '' then
          local held = redis.call('GET', KEYS[3])
          if held then
            local space = string.find(held, ' ', 1, true)
            local record = redis.call('GET', ARGV[8] .. string.sub(held, space + 1))
            if record then
              if string.sub(held, 1, space - 1) ~= ARGV[6] then return {'mismatch'} end
              return {'existing', record}
            end
          end
        end
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2])
        if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return {'full'} end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
        redis.call('ZADD', KEYS[2], ARGV[9], ARGV[7])
        if KEYS[3] ~= '' then redis.call('SET', KEYS[3], ARGV[6] .. ' ' .. ARGV[7], 'PX', ARGV[5]) end
        return {'created'}
        """

    public func create(_ job: JobRecord, idempotency: IdempotencyClaim?, now: Double) async throws -> (job: JobRecord, created: Bool) {
        let json = String(decoding: try JSONEncoder().encode(job), as: UTF8.self)
        let arguments = ["EVAL", Self.createScript, "3", jobKey(job.id), liveKey, idempotency.map { "\(prefix):idem:\($0.scopedKey)" } ?? "",
                         json, Self.ms(now), "\(settings.maxLiveJobs)", Self.ms(settings.keepSeconds(job, now: now)),
                         Self.ms(settings.idempotencyTTLSeconds), idempotency?.fingerprint ?? "", job.id, "\(prefix):job:",
                         Self.ms(job.lease_expires_s)]
        let reply = try await run { try $0.send([arguments])[0] }
        guard case .array(let parts?) = reply, let outcome = parts.first?.text else { throw Self.unexpected(reply) }
        switch outcome {
        case "created": return (job, true)
        case "existing":
            guard parts.count == 2, let record = try Self.decode(parts[1]) else { throw Self.unexpected(reply) }
            return (record, false)
        case "mismatch": throw JobError.idempotencyMismatch
        case "full": throw JobError.tooManyJobs(limit: settings.maxLiveJobs, retryAfterSeconds: settings.retryAfterSeconds)
        default: throw Self.unexpected(reply)
        }
    }

    public func job(_ id: String, now: Double) async throws -> JobRecord? {
        let key = jobKey(id)
        let reply = try await run { try $0.send([["GET", key]])[0] }
        return try Self.decode(reply)
    }

    public func update(_ id: String, now: Double, _ change: @escaping @Sendable (inout JobRecord) throws -> Void) async throws -> JobRecord? {
        let key = jobKey(id), liveKey = liveKey, settings = settings
        return try await run { connection in
            for attempt in 0..<32 {
                if attempt > 0 {
                    // Lost the race: a random wait, doubling up to 6.4 ms, so two writers that keep colliding
                    // fall out of step instead of one starving (it did, at times, with 200 updates at once).
                    usleep(UInt32.random(in: 0...(100 << min(attempt, 6))))
                }
                let read = try connection.send([["WATCH", key], ["GET", key]])
                guard var record = try Self.decode(read[1]) else {
                    _ = try connection.send([["UNWATCH"]])
                    return nil
                }
                do { try change(&record) } catch {
                    _ = try connection.send([["UNWATCH"]])
                    throw error
                }
                let json = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
                let live = record.state.isFinished ? ["ZREM", liveKey, id] : ["ZADD", liveKey, Self.ms(record.lease_expires_s), id]
                let replies = try connection.send([["MULTI"], ["SET", key, json, "PX", Self.ms(settings.keepSeconds(record, now: now))],
                                                   live, ["EXEC"]])
                switch replies[3] {
                case .array(let results?):
                    if let failure = results.first(where: { if case .error = $0 { true } else { false } }) { throw Self.unexpected(failure) }
                    return record
                case .array(nil):
                    continue  // another pod wrote the job after WATCH: read it again
                default:
                    throw Self.unexpected(replies[3])
                }
            }
            throw JobError.storeUnavailable("job \(id) kept changing under 32 attempts to update it")
        }
    }

    private static func decode(_ reply: RESPValue) throws -> JobRecord? {
        switch reply {
        case .bulk(nil): return nil
        case .bulk(let bytes?):
            do { return try JSONDecoder().decode(JobRecord.self, from: Data(bytes)) } catch {
                throw JobError.storeUnavailable("a job record in redis is not valid: \(error)")
            }
        default: throw unexpected(reply)
        }
    }

    private static func unexpected(_ reply: RESPValue) -> JobError {
        if case .error(let message) = reply { return .storeUnavailable("redis: \(message)") }
        return .storeUnavailable("unexpected redis reply \(String(describing: reply).prefix(200))")
    }
}
