import Foundation
import HTTPServer
@testable import Service
import Testing
import TestSupport

/// The jobs API on a live service (narrow test weights): life cycle, progress, idempotency, the live-job
/// limit, cancellation and unknown ids.
@Suite(.serialized) struct JobsEndpointTests {
    typealias Response = (status: Int, headers: [String: String], body: String)

    struct Job: Decodable {
        struct Result: Decodable {
            struct Window: Decodable { var start_s: Double; var end_s: Double }
            var timeline: [Window]?
            var predictions: [ClassifyAnswer.Prediction]
        }
        var id: String
        var state: String
        var progress: Double
        var windows_done: Int
        var windows_total: Int
        var cancel_requested: Bool
        var result: Result?
        var error: String?

        init(_ text: String) throws { self = try JSONDecoder().decode(Job.self, from: Data(text.utf8)) }
    }

    static func request(_ port: Int, _ method: String, _ path: String, body: Data = Data(), headers: [String: String] = [:]) throws -> Response {
        let client = try RawClient(port: port, receiveTimeout: 30)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n"
        if !body.isEmpty { head += "Content-Type: video/mp4\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        client.send(head + "\r\n")
        client.send([UInt8](body))
        guard let response = client.response() else { throw URLError(.badServerResponse) }
        return response
    }

    static func waitFor(_ port: Int, _ id: String, seconds: Double = 60, until done: (Job) -> Bool) throws -> Job {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let job = try Job(request(port, "GET", "/v1/jobs/\(id)").body)
            if done(job) || Date() > deadline { return job }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    static let video = { try! TestVideos.h264(seconds: 4) }()
    /// 200 windows at a 0.1 s stride: still running while the test looks at it.
    static let longVideo = { try! TestVideos.h264(seconds: 20) }()

    @Test func aJobRunsToDoneWithItsTimelineAndProgress() throws {
        let service = try TestService()
        defer { _ = service.stop() }
        let posted = try Self.request(service.port, "POST", "/v1/jobs?stride_s=0.5&top_k=2", body: Self.video)
        #expect(posted.status == 202)
        let job = try Job(posted.body)
        #expect(posted.headers["location"] == "/v1/jobs/\(job.id)")
        #expect(JobID.isWellFormed(job.id) && job.state == "queued" && job.progress == 0)
        var progressSeen: [Double] = []
        let done = try Self.waitFor(service.port, job.id) { progressSeen.append($0.progress); return $0.state == "done" }
        #expect(done.state == "done" && done.progress == 1)
        #expect(progressSeen == progressSeen.sorted(), "progress went backwards: \(progressSeen)")
        // 4 s at a 0.5 s stride: windows start at 0, 0.5, ... 3.5.
        #expect(done.windows_total == 8 && done.windows_done == 8)
        #expect(done.result?.timeline?.count == 8)
        #expect(done.result?.predictions.count == 2)
        #expect(try service.metric(#"r2plus1d_jobs_total{state="done"}"#) == 1)
        // A job's answer is the same timeline as a request's.
        let direct = try TimelineAnswer(service.post("/v1/classify?timeline=1&stride_s=0.5&top_k=2", body: Self.video,
                                                     contentType: "video/mp4").body)
        let predictions = try #require(done.result?.predictions)
        #expect(predictions.map(\.index) == direct.predictions.map(\.index), "\(predictions) against \(direct.predictions)")
        #expect(zip(predictions, direct.predictions).allSatisfy { abs($0.score - $1.score) < 1e-5 })
    }

    /// A job's upload is counted twice for a moment (the request's body, and the job's copy until the 202 is sent),
    /// so the budget is never below two uploads of the largest size: one alone always fits.
    @Test func aLargestSizeJobFitsABudgetOfOneUpload() throws {
        let service = try TestService {
            $0.http.limits.maxBodyBytes = 3 << 20
            $0.http.maxBufferedBodyBytes = 3 << 20
        }
        defer { _ = service.stop() }
        let posted = try Self.request(service.port, "POST", "/v1/jobs", body: Data(repeating: 7, count: 3 << 20))
        #expect(posted.status == 202, "\(posted.body)")
        #expect(try service.get("/v1/model").body.contains("\"max_buffered_upload_bytes\":\(6 << 20)"))
    }

    @Test func unknownAndMalformedIdsAre404() throws {
        let service = try TestService()
        defer { _ = service.stop() }
        #expect(try Self.request(service.port, "GET", "/v1/jobs/\(JobID.make())").status == 404)
        #expect(try Self.request(service.port, "GET", "/v1/jobs/nope").status == 404)
        #expect(try Self.request(service.port, "DELETE", "/v1/jobs/\(JobID.make())").status == 404)
    }

    @Test func anIdempotencyKeyGivesTheSameJob() throws {
        let service = try TestService()
        defer { _ = service.stop() }
        let first = try Self.request(service.port, "POST", "/v1/jobs", body: Self.video, headers: ["Idempotency-Key": "k1"])
        let again = try Self.request(service.port, "POST", "/v1/jobs", body: Self.video, headers: ["Idempotency-Key": "k1"])
        #expect(first.status == 202 && again.status == 202)
        #expect(try Job(first.body).id == Job(again.body).id)
        #expect(again.headers["idempotent-replayed"] == "true")
        let other = try Self.request(service.port, "POST", "/v1/jobs?top_k=1", body: Self.video, headers: ["Idempotency-Key": "k1"])
        #expect(other.status == 422)
        // The same key under other credentials is another caller's: a job of its own.
        let elsewhere = try Self.request(service.port, "POST", "/v1/jobs", body: Self.video,
                                         headers: ["Idempotency-Key": "k1", "Authorization": "Bearer other"])
        let elsewhereID = try Job(elsewhere.body).id, firstID = try Job(first.body).id
        #expect(elsewhere.status == 202 && elsewhereID != firstID)
    }

    @Test func tooManyLiveJobsGive503AndACancelFreesAPlace() throws {
        let service = try TestService {
            $0.jobs.maxLiveJobs = 2
            $0.jobs.concurrency = 1
        }
        defer { _ = service.stop() }
        // Many small windows: long enough to still be live while the next requests arrive.
        let long = "/v1/jobs?stride_s=0.1&window_s=0.2"
        let a = try Job(Self.request(service.port, "POST", long, body: Self.longVideo).body)
        let b = try Job(Self.request(service.port, "POST", long, body: Self.longVideo).body)
        let refused = try Self.request(service.port, "POST", long, body: Self.longVideo)
        #expect(refused.status == 503 && refused.headers["retry-after"] == "30")
        // b waits for a: cancelling it ends it at once.
        let cancelledB = try Self.request(service.port, "DELETE", "/v1/jobs/\(b.id)")
        let stateB = try Job(cancelledB.body).state
        #expect(cancelledB.status == 200 && stateB == "cancelled")
        // a is running: its owner stops it on its next look.
        let cancelA = try Self.request(service.port, "DELETE", "/v1/jobs/\(a.id)")
        #expect([200, 202].contains(cancelA.status))
        let ended = try Self.waitFor(service.port, a.id) { $0.state != "queued" && $0.state != "running" }
        #expect(ended.state == "cancelled" && ended.windows_done < 200)
        #expect(try Self.request(service.port, "POST", long, body: Self.video).status == 202)
    }

    @Test func aShutdownEndsARunningJobFailedAndTheServiceStops() async throws {
        let service = try TestService()
        let job = try Job(Self.request(service.port, "POST", "/v1/jobs?stride_s=0.1&window_s=0.2", body: Self.longVideo).body)
        _ = try Self.waitFor(service.port, job.id) { $0.state == "running" }
        let runner = service.service.jobs
        #expect(service.stop())
        let ended = try await runner.status(job.id)
        #expect(ended?.state == .failed && ended?.error == JobRunner.podShutDown)
    }

    @Test func badOptionsAndBadVideosAreRefusedOrFail() throws {
        let service = try TestService()
        defer { _ = service.stop() }
        #expect(try Self.request(service.port, "POST", "/v1/jobs?stride_s=0", body: Self.video).status == 400)
        #expect(try Self.request(service.port, "POST", "/v1/jobs", body: Self.video, headers: ["Idempotency-Key": ""]).status == 400)
        let junk = try Job(Self.request(service.port, "POST", "/v1/jobs", body: Data(repeating: 7, count: 4096)).body)
        let failed = try Self.waitFor(service.port, junk.id) { $0.state == "failed" }
        #expect(failed.state == "failed" && (failed.error ?? "").isEmpty == false)
    }
}
