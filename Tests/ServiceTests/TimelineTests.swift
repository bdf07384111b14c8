import Foundation
import R2Plus1D
@testable import Service
import TestSupport
import Testing
import VideoDecode

/// Window planning and segment merging, and the exactness promise: a window's answer is that of a single-clip
/// classification restricted to the window's time range.
@Suite struct TimelineTests {
    static func window(_ index: Int, _ start: Double, _ end: Double, _ label: Int, _ score: Double) -> Timeline.Window {
        Timeline.Window(index: index, start_s: start, end_s: end,
                        predictions: [Classification.Prediction(label: "action \(label)", index: label, score: score)])
    }

    @Test func windowsTileTheRangeAndTheLastMayBeShort() {
        var options = TimelineOptions()
        options.windowSeconds = 2
        #expect(options.windows(duration: 5) == [0...2, 2...4, 4...5])
        options.strideSeconds = 1
        options.startSeconds = 1
        options.endSeconds = 4
        #expect(options.windows(duration: 10) == [1...3, 2...4, 3...4])
        #expect(TimelineOptions.clipStart(4...8) == 4 + (4 - ClipSampling.clipSeconds) / 2)
        #expect(TimelineOptions.clipStart(0...0.5) == 0)
    }

    @Test func badOptionsAreRefusedByName() {
        var options = TimelineOptions()
        options.strideSeconds = 0.01
        #expect(throws: ServiceError.badParameter("stride_s must be at least 0.1")) { try options.validate() }
        options = TimelineOptions()
        options.startSeconds = 5
        options.endSeconds = 5
        #expect(throws: ServiceError.self) { try options.validate() }
    }

    @Test func confidentRunsOfOneLabelMergeIntoSegments() {
        let windows = [Self.window(0, 0, 1, 3, 0.9), Self.window(1, 1, 2, 3, 0.7), Self.window(2, 2, 3, 3, 0.4),  // below: a gap
                       Self.window(3, 3, 4, 3, 0.8), Self.window(4, 4, 5, 5, 0.95), Self.window(5, 5, 6, 5, 0.85)]
        let segments = Timeline.segments(windows, threshold: 0.5, minSeconds: 0)
        #expect(segments.map(\.index) == [3, 3, 5])
        #expect(segments.map { [$0.start_s, $0.end_s] } == [[0, 2], [3, 4], [4, 6]])
        #expect(abs(segments[0].score - 0.8) < 1e-12 && abs(segments[2].score - 0.9) < 1e-12)
        // Flicker shorter than 1.5 s goes.
        #expect(Timeline.segments(windows, threshold: 0.5, minSeconds: 1.5).map(\.index) == [3, 5])
    }

    @Test func eachWindowAnswersAsItsOwnTimeRangeDoesThroughTheService() throws {
        let video = try TestVideos.make("timeline_parts.mp4", TestVideos.lavfi("testsrc2=size=320x240:rate=30") + ["-t", "5", "-c:v", "libx264", "-g", "30", "-pix_fmt", "yuv420p"])
        let network = try R2Plus1D18(weights: WeightsSource.file(path: TestService.files.weights).load())
        let labels = try Labels(path: TestService.files.labels, classes: TestService.classes)
        let pipeline = ClassificationPipeline(decode: { _, _, _ in throw ServiceError.internalFailure },
                                              forward: ClassificationPipeline.direct(network), labels: labels,
                                              model: ModelInfo(source: .demo(seed: 1)))
        var options = TimelineOptions()
        options.topK = TestService.classes
        options.strideSeconds = 1.5
        let answer = try pipeline.timeline(Data(video), options: options, chunk: 2, forward: { ClassificationPipeline.forwardNow(network, $0) })
        let windows = try #require(answer.timeline)
        let ranges = options.windows(duration: answer.video.duration_s)
        #expect(windows.count == ranges.count && windows.count == 4)
        let test = try TestService()
        for (window, range) in zip(windows, ranges) {
            let body = try test.post("/classify?clips=1&top_k=\(TestService.classes)&start_s=\(range.lowerBound)&end_s=\(range.upperBound)",
                                     body: video, contentType: "video/mp4").body
            let alone = try ClassifyAnswer(body)
            #expect(alone.predictions.map(\.index) == window.predictions.map(\.index), "window \(window.index)")
            #expect(zip(alone.predictions, window.predictions).allSatisfy { abs($0.score - $1.score) < 1e-5 })
            #expect(abs(alone.clips[0].start_s - TimelineOptions.clipStart(range)) < 1e-9)
        }
        #expect(test.stop())
    }
}
