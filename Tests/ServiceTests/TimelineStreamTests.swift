import Foundation
import HTTPServer
@testable import Service
import Synchronization
import TestSupport
import Testing
import VideoDecode

/// The NDJSON form of a timeline: a window's line leaves before the next window is computed, a failure before
/// the first window is an ordinary status, and one after it is the last line.
@Suite struct TimelineStreamTests {
    static func window(_ index: Int) -> Timeline.Window {
        Timeline.Window(index: index, start_s: Double(index), end_s: Double(index) + 1,
                        predictions: [Classification.Prediction(label: "action 1", index: 1, score: 0.75)])
    }

    /// Collects what a body stream writes, and lets a test wait for the n-th piece.
    final class Sink: Sendable {
        let lines = Mutex<[String]>([])
        let arrived = AsyncStream<Int>.makeStream()
        func write(_ data: Data) {
            let count = lines.withLock { $0.append(String(decoding: data, as: UTF8.self)); return $0.count }
            arrived.continuation.yield(count)
        }
    }

    @Test func aWindowIsWrittenBeforeTheNextIsComputed() async throws {
        let gate = AsyncStream<Void>.makeStream()
        let response = try await TimelineStream.response { onWindow in
            onWindow(Self.window(0))
            for await _ in gate.stream { break }  // the next window waits until the test has read the first line
            onWindow(Self.window(1))
            throw ServiceError.unusableVideo("the video ends early")
        }
        #expect(response.status == .ok && response.headers["Content-Type"] == "application/x-ndjson")
        // nginx (and the Kubernetes ingress built on it) holds a proxied body in its buffers unless told not to.
        #expect(response.headers["X-Accel-Buffering"] == "no")
        let stream = try #require(response.stream)
        let sink = Sink()
        let producing = Task { await stream.produce { sink.write($0) } }
        var arrivals = sink.arrived.stream.makeAsyncIterator()
        #expect(await arrivals.next() == 1)
        #expect(sink.lines.withLock { $0 } == [#"{"window":{"end_s":1,"index":0,"predictions":[{"index":1,"label":"action 1","score":0.75}],"start_s":0}}"# + "\n"])
        gate.continuation.yield()
        await producing.value
        let lines = sink.lines.withLock { $0 }
        #expect(lines.count == 3 && lines[1].hasPrefix(#"{"window":{"end_s":2,"index":1"#))
        #expect(lines[2] == #"{"error":{"detail":"the video ends early","status":422,"title":"Unprocessable Content","type":"about:blank"}}"# + "\n")
    }

    @Test func aFailureBeforeTheFirstWindowIsAnOrdinaryStatus() async {
        await #expect(throws: ServiceError.unusableVideo("no video stream")) {
            _ = try await TimelineStream.response { _ in throw ServiceError.unusableVideo("no video stream") }
        }
    }

    @Test func theLastLineIsTheWholeAnswer() async throws {
        let response = try await TimelineStream.response { onWindow in
            onWindow(Self.window(0))
            var answer = Classification(predictions: [], clips: [], info: VideoInfo(container: "mov", codec: "h264", width: 2, height: 2, fps: 1,
                                                                                     durationSeconds: 1, rotation: 0),
                                        model: ModelInfo(source: .demo(seed: 1)), timing: .init(decode: 0, queue: 0, inference: 0, total: 0))
            answer.timeline = [Self.window(0)]
            answer.segments = []
            return answer
        }
        let sink = Sink()
        await response.stream!.produce { sink.write($0) }
        let lines = sink.lines.withLock { $0 }
        #expect(lines.count == 2 && lines[1].hasPrefix(#"{"result":{"clips":[]"#) && lines[1].contains(#""timeline":[{"end_s":1"#))
    }

    /// curl, reading the stream as it comes, from a running service.
    @Test func aRealClientReadsTheWindowsAsLinesAndThenTheAnswer() throws {
        let video = try TestVideos.h264(seconds: 6, gop: 30)
        let file = TestVideos.directory.appendingPathComponent("h264_6s_gop30.mp4").path
        #expect(FileManager.default.fileExists(atPath: file) && !video.isEmpty)
        let test = try TestService()
        defer { #expect(test.stop()) }
        let (status, output) = try run("curl", ["-sS", "-N", "-D", "-", "-H", "Accept: application/x-ndjson", "-H", "Content-Type: video/mp4",
                                                "--data-binary", "@\(file)", "http://127.0.0.1:\(test.port)/v1/classify?timeline=1&stride_s=0.5&top_k=2"])
        #expect(status == 0)
        let parts = output.components(separatedBy: "\r\n\r\n")
        #expect(parts[0].lowercased().contains("transfer-encoding: chunked") && parts[0].contains("application/x-ndjson"))
        let lines = parts.dropFirst().joined().split(separator: "\n").map(String.init)
        let windows = lines.dropLast().map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(windows.count == 12 && windows.allSatisfy { $0?["window"] != nil })
        #expect(windows.compactMap { ($0?["window"] as? [String: Any])?["index"] as? Int } == Array(0..<12))
        let last = try #require(lines.last)
        let result = try TimelineAnswer(String(decoding: try JSONSerialization.data(withJSONObject:
            (try JSONSerialization.jsonObject(with: Data(last.utf8)) as! [String: Any])["result"]!), as: UTF8.self))
        #expect(result.timeline.count == 12 && result.predictions.count == 2)
    }
}
