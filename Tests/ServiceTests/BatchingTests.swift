import Foundation
@testable import Service
import TestSupport
import Testing

/// Clips from concurrent requests share forward passes; answers do not depend on who shared a batch.
@Suite(.serialized) struct BatchingTests {
    @Test func concurrentRequestsShareForwardPassesWithTheSameResults() throws {
        let video = try TestVideos.h264(seconds: 3, gop: 30)
        let alone = try TestService { $0.batching.maxDelaySeconds = 0 }
        let expected = try (1...4).map { clips in
            try ClassifyAnswer(alone.post("/classify?clips=\(clips)&top_k=7", body: video, contentType: "video/mp4").body).predictions
        }
        #expect(alone.stop())

        let test = try TestService { $0.batching.maxDelaySeconds = 0.4 }
        let before = try test.metric("r2plus1d_forward_calls_total")
        let answers = ResultsBox()
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            let answer = try? ClassifyAnswer(test.post("/classify?clips=\(i + 1)&top_k=7", body: video, contentType: "video/mp4").body)
            answers.set(i, answer?.predictions)
        }
        let calls = try test.metric("r2plus1d_forward_calls_total") - before
        // 10 clips; batches of up to 8 gathered over 0.4 s: two or three forward passes, not ten.
        #expect(calls >= 2 && calls < 10, "\(calls) forward calls for 10 clips")
        for i in 0..<4 {
            let got = try #require(answers.get(i))
            #expect(got.map(\.index) == expected[i].map(\.index))
            #expect(zip(got, expected[i]).allSatisfy { abs($0.score - $1.score) < 1e-5 })
        }
        #expect(test.stop())
    }

    @Test func clientThatLeavesWhileQueuedCostsNoCompute() throws {
        // A worker holding clips waits for more only while another request is decoding: a long one (ten clips
        // of a 720p video with one keyframe, 600 frames: over a second to decode in a release build too) keeps
        // the batch open while the short request's client leaves.
        let long = try TestVideos.make("long-decode-20s.mp4", TestVideos.lavfi("testsrc2=size=1280x720:rate=30")
            + ["-t", "20", "-c:v", "libx264", "-preset", "ultrafast", "-g", "600"])
        let short = try TestVideos.h264(seconds: 3, gop: 30)
        let test = try TestService {
            $0.batching.maxDelaySeconds = 1.0
            $0.decodeLimits.maxDimension = 2000
        }
        let computed = try test.metric("r2plus1d_clips_computed_total")
        let stays = DispatchSemaphore(value: 0)
        let longStatus = ResultsBox()
        Thread {
            let status = try? test.post("/classify?clips=10", body: long, contentType: "video/mp4").status
            longStatus.set(0, status == 200 ? [] : nil)
            stays.signal()
        }.start()
        Thread.sleep(forTimeInterval: 0.05)
        do {
            let client = try RawClient(port: test.port)
            client.send("POST /classify?clips=2 HTTP/1.1\r\nHost: t\r\nContent-Type: video/mp4\r\nContent-Length: \(short.count)\r\n\r\n")
            client.send([UInt8](short))
            Thread.sleep(forTimeInterval: 0.3)  // decoded and queued; the batch open while the long one decodes
        }
        stays.wait()
        #expect(longStatus.get(0) != nil, "the long request must succeed")
        let dropped = try test.metric("r2plus1d_clips_dropped_total{reason=\"client_gone\"}")
        #expect(dropped == 2, "\(dropped)")
        #expect(try test.metric("r2plus1d_clips_computed_total") == computed + 10)
        #expect(test.stop())
    }

    @Test func aLoneRequestDoesNotWaitForCompanions() throws {
        let video = try TestVideos.h264(seconds: 3, gop: 30)
        let test = try TestService { $0.batching.maxDelaySeconds = 2.0 }
        let start = Date()
        #expect(try test.post("/classify", body: video, contentType: "video/mp4").status == 200)
        #expect(Date().timeIntervalSince(start) < 1.5, "nothing else was decoding: the worker must not wait 2 s")
        #expect(test.stop())
    }
}

final class ResultsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int: [ClassifyAnswer.Prediction]] = [:]
    func set(_ i: Int, _ value: [ClassifyAnswer.Prediction]?) { lock.withLock { values[i] = value } }
    func get(_ i: Int) -> [ClassifyAnswer.Prediction]? { lock.withLock { values[i] } }
}

/// Nothing a request brought (its 2.3 MB clips) outlives its answer: the deadline timer held requests for the
/// whole timeout once, so RSS climbed with every request until the timeouts caught up.
@Suite(.serialized) struct RequestLifetimeTests {
    @Test func answeredRequestsReleaseTheirClips() throws {
        let video = try TestVideos.h264(seconds: 3, gop: 30)
        let test = try TestService { $0.requestTimeoutSeconds = 30 }
        for clips in 1...3 {
            #expect(try test.post("/classify?clips=\(clips)", body: video, contentType: "video/mp4").status == 200)
        }
        // A batch worker lets go of a batch just after it delivers the last logits.
        var held = try test.metric("r2plus1d_batch_requests_held")
        for _ in 0..<50 where held > 0 {
            Thread.sleep(forTimeInterval: 0.02)
            held = try test.metric("r2plus1d_batch_requests_held")
        }
        #expect(held == 0, "\(held) answered requests still hold their clips")
        #expect(test.stop())
    }
}
