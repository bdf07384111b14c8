import Foundation
@testable import Service
import Testing

/// A redis-server of the test's own on a free loopback port, stopped when the test ends.
final class RedisServer: @unchecked Sendable {
    static let executable = "/usr/bin/redis-server"
    static var available: Bool { FileManager.default.isExecutableFile(atPath: executable) }
    let port: Int
    private let process = Process()

    init() throws {
        port = try Self.freePort()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        for _ in 0..<200 {
            if (try? RedisConnection(address: RedisAddress("redis://127.0.0.1:\(port)")).send([["PING"]])) != nil { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw JobError.storeUnavailable("redis-server did not start on port \(port)")
    }

    var url: String { "redis://127.0.0.1:\(port)" }

    // SIGKILL: the test process blocks SIGTERM for its servers' signalfd, and its children inherit the mask.
    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw JobError.storeUnavailable("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// The store's rules against a real Redis server (CI installs Debian's redis-server); the same checks as the
/// in-memory store, then what only Redis does: expiry by Redis itself, atomic updates from two connections.
@Suite(.serialized, .enabled(if: RedisServer.available, "redis-server is not installed (apt-get install redis-server)"))
struct RedisJobStoreTests {
    let now = Date().timeIntervalSince1970

    func store(_ server: RedisServer, _ settings: JobSettings = JobStoreChecks.settings()) throws -> RedisJobStore {
        try RedisJobStore(url: server.url, settings: settings, prefix: "t\(UInt32.random(in: 0 ... .max))")
    }

    @Test func idempotencyGivesTheSameJob() async throws {
        let server = try RedisServer()
        try await JobStoreChecks.idempotencyGivesTheSameJob(store(server), now: now)
    }

    @Test func liveJobsAreBounded() async throws {
        let server = try RedisServer()
        try await JobStoreChecks.liveJobsAreBounded(store(server), now: now)
    }

    @Test func aDeadOwnersJobsFreeTheirPlaces() async throws {
        let server = try RedisServer()
        try await JobStoreChecks.aDeadOwnersJobsFreeTheirPlaces(store(server), now: now)
    }

    @Test func updatesThatThrowChangeNothing() async throws {
        let server = try RedisServer()
        try await JobStoreChecks.updatesThatThrowChangeNothing(store(server), now: now)
    }

    @Test func redisForgetsFinishedJobsAfterTheRetention() async throws {
        let server = try RedisServer()
        var settings = JobStoreChecks.settings()
        settings.retentionSeconds = 0.4
        let store = try store(server, settings)
        let t = Date().timeIntervalSince1970
        let a = try await store.create(JobRecord(id: JobID.make(), owner: "a", now: t, leaseSeconds: 10), idempotency: nil, now: t)
        _ = try await store.update(a.job.id, now: t) { $0.requestCancel(now: t) }
        #expect(try await store.job(a.job.id, now: t)?.state == .cancelled)
        try await Task.sleep(nanoseconds: 700_000_000)
        #expect(try await store.job(a.job.id, now: Date().timeIntervalSince1970) == nil)
    }

    @Test func aJobWhosePodStoppedReadsFailedThenIsForgotten() async throws {
        let server = try RedisServer()
        var settings = JobStoreChecks.settings()
        settings.retentionSeconds = 0.5
        let store = try store(server, settings)
        let t = Date().timeIntervalSince1970
        let a = try await store.create(JobRecord(id: JobID.make(), owner: "a", now: t, leaseSeconds: 0.3), idempotency: nil, now: t)
        try await Task.sleep(nanoseconds: 400_000_000)
        let seen = try await store.job(a.job.id, now: Date().timeIntervalSince1970)?.effective(now: Date().timeIntervalSince1970)
        #expect(seen?.state == .failed && seen?.error == JobRecord.ownerGone)
        try await Task.sleep(nanoseconds: 600_000_000)
        #expect(try await store.job(a.job.id, now: Date().timeIntervalSince1970) == nil)
    }

    @Test func concurrentUpdatesFromTwoConnectionsAreNeverLost() async throws {
        let server = try RedisServer()
        let prefix = "c\(UInt32.random(in: 0 ... .max))"
        let settings = JobStoreChecks.settings()
        let one = try RedisJobStore(url: server.url, settings: settings, prefix: prefix)
        let two = try RedisJobStore(url: server.url, settings: settings, prefix: prefix)
        let t = now
        let a = try await one.create(JobRecord(id: JobID.make(), owner: "a", now: t, leaseSeconds: 10), idempotency: nil, now: t)
        await withTaskGroup(of: Void.self) { group in
            for store in [one, two] {
                group.addTask {
                    for _ in 0..<100 { _ = try? await store.update(a.job.id, now: t) { $0.windows_total += 1 } }
                }
            }
        }
        #expect(try await one.job(a.job.id, now: t)?.windows_total == 200)
    }

    @Test func aWrongAddressFailsAtStart() {
        #expect(throws: JobError.self) { _ = try RedisJobStore(url: "redis://127.0.0.1:1", settings: JobSettings()) }
    }
}
