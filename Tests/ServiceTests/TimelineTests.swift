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
        #expect(options.grid.windows(duration: 5) == [0...2, 2...4, 4...5])
        options.strideSeconds = 1
        options.startSeconds = 1
        options.endSeconds = 4
        #expect(options.grid.windows(duration: 10) == [1...3, 2...4, 3...4])
        #expect(WindowGrid.clipStart(4...8) == 4 + (4 - ClipSampling.clipSeconds) / 2)
        #expect(WindowGrid.clipStart(0...0.5) == 0)
        let centred = (2 - ClipSampling.clipSeconds) / 2  // a 2 s window's clip sits in its middle; a 1 s window's at its start
        #expect(options.grid.clipStarts(duration: 10) == [1 + centred, 2 + centred, 3])
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

    /// Through the service's decode workers and batch scheduler, as a user gets it.
    @Test func eachWindowAnswersAsItsOwnTimeRangeDoesThroughTheService() throws {
        let video = try TestVideos.make("timeline_parts.mp4", TestVideos.lavfi("testsrc2=size=320x240:rate=30") + ["-t", "5", "-c:v", "libx264", "-g", "30", "-pix_fmt", "yuv420p"])
        let test = try TestService()
        defer { #expect(test.stop()) }
        let k = TestService.classes
        let response = try test.post("/v1/classify?timeline=1&top_k=\(k)&stride_s=1.5", body: video, contentType: "video/mp4")
        #expect(response.status == 200, "\(response.body)")
        let answer = try TimelineAnswer(response.body)
        var options = TimelineOptions()
        options.strideSeconds = 1.5
        let ranges = options.grid.windows(duration: answer.video.duration_s)
        #expect(answer.timeline.count == ranges.count && ranges.count == 4)
        for (window, range) in zip(answer.timeline, ranges) {
            let body = try test.post("/classify?clips=1&top_k=\(k)&start_s=\(range.lowerBound)&end_s=\(range.upperBound)",
                                     body: video, contentType: "video/mp4").body
            let alone = try ClassifyAnswer(body)
            #expect(alone.predictions.map(\.index) == window.predictions.map(\.index), "window \(window.index)")
            #expect(zip(alone.predictions, window.predictions).allSatisfy { abs($0.score - $1.score) < 1e-5 })
            #expect(abs(alone.clips[0].start_s - WindowGrid.clipStart(range)) < 1e-9)
            #expect(window.start_s >= range.lowerBound - 0.05 && window.end_s <= range.upperBound + 0.05)
        }
        // The video-level answer averages the windows' softmax.
        let top = answer.predictions[0]
        let mean = answer.timeline.map { w in w.predictions.first { $0.index == top.index }!.score }.reduce(0, +) / Double(answer.timeline.count)
        #expect(abs(top.score - mean) < 1e-9)
        #expect(try test.metric("r2plus1d_timeline_windows_total") == 4)
    }

    @Test func aTimeRangeLimitsTheWindowsToIt() throws {
        let video = try TestVideos.h264(seconds: 6, gop: 30)
        let test = try TestService()
        defer { #expect(test.stop()) }
        let response = try test.post("/v1/classify?timeline=1&start_s=1.25&end_s=4&window_s=1&stride_s=0.5", body: video, contentType: "video/mp4")
        let answer = try TimelineAnswer(response.body)
        var options = TimelineOptions()
        (options.startSeconds, options.endSeconds, options.windowSeconds, options.strideSeconds) = (1.25, 4, 1, 0.5)
        let ranges = options.grid.windows(duration: answer.video.duration_s)
        #expect(ranges.first == 1.25...2.25 && ranges.last == 3.75...4 && answer.timeline.count == ranges.count)
        // A window starts at the frame at or before its first grid time.
        #expect(answer.timeline.allSatisfy { $0.start_s > 1.25 - 1.0 / 30 - 1e-9 && $0.start_s < 4 })
        #expect(answer.timeline.first!.start_s < 1.25 + 1.0 / 15)
    }

    @Test func aQueueSmallerThanAChunkTakesTheTimelineInSmallerChunks() throws {
        let video = try TestVideos.h264(seconds: 6, gop: 30)
        let test = try TestService { $0.batching.queueCapacity = 3 }
        defer { #expect(test.stop()) }
        let response = try test.post("/v1/classify?timeline=1&stride_s=0.5", body: video, contentType: "video/mp4")
        #expect(response.status == 200, "\(response.body)")
        #expect(try TimelineAnswer(response.body).timeline.count == 12)
    }

    @Test func badTimelineOptionsAreRefusedByName() throws {
        let video = try TestVideos.h264(seconds: 3, gop: 30)
        let test = try TestService()
        defer { #expect(test.stop()) }
        for (query, words) in [("timeline=2", "timeline must be"), ("timeline=1&stride_s=0.01", "stride_s"),
                               ("timeline=1&threshold=2", "threshold"), ("timeline=1&window_s=-1", "window_s")] {
            let response = try test.post("/v1/classify?\(query)", body: video, contentType: "video/mp4")
            #expect(response.status == 400 && response.body.contains(words), "\(query): \(response.body)")
        }
        let beyond = try test.post("/v1/classify?timeline=1&start_s=60", body: video, contentType: "video/mp4")
        #expect(beyond.status == 422 && beyond.body.contains("no window starts"), "\(beyond.body)")
    }
}

/// The JSON answer of POST /classify with a timeline.
struct TimelineAnswer: Decodable {
    struct Window: Decodable { var index: Int; var start_s: Double; var end_s: Double; var predictions: [ClassifyAnswer.Prediction] }
    struct Segment: Decodable { var label: String; var index: Int; var start_s: Double; var end_s: Double; var score: Double }
    var predictions: [ClassifyAnswer.Prediction]
    var video: ClassifyAnswer.Video
    var timeline: [Window]
    var segments: [Segment]

    init(_ text: String) throws {
        self = try JSONDecoder().decode(TimelineAnswer.self, from: Data(text.utf8))
    }
}

/// A video of visually different parts: the timeline's segments change where the parts do. The full-size network
/// on the demo weights, which give different content different labels.
@Suite struct TimelineSegmentTests {
    static let partSeconds = 3.0
    /// Sources the demo weights tell apart.
    static let sources = ["testsrc2=size=320x240:rate=30", "color=c=0x3366cc:size=320x240:rate=30",
                          "rgbtestsrc=size=320x240:rate=30", "smptebars=size=320x240:rate=30"]

    static func parts() throws -> Data {
        var arguments: [String] = []
        for source in sources { arguments += TestVideos.lavfi(source) }
        let inputs = (0..<sources.count).map { "[\($0):v]trim=duration=\(partSeconds),setpts=PTS-STARTPTS,format=yuv420p[v\($0)]" }
        let concat = (0..<sources.count).map { "[v\($0)]" }.joined() + "concat=n=\(sources.count):v=1:a=0[out]"
        arguments += ["-filter_complex", (inputs + [concat]).joined(separator: ";"), "-map", "[out]", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30"]
        return try TestVideos.make("timeline_four_parts.mp4", arguments)
    }

    @Test func segmentBoundariesFallWithinAStrideOfWhereThePartsChange() throws {
        let video = try Self.parts()
        let test = try TestService { $0.weights = .demo(seed: DemoWeights.defaultSeed); $0.labelsPath = nil }
        defer { #expect(test.stop()) }
        let stride = 0.5
        let response = try test.post("/v1/classify?timeline=1&window_s=1&stride_s=\(stride)&threshold=0&min_segment_s=1.5&top_k=1", body: video, contentType: "video/mp4")
        let answer = try TimelineAnswer(response.body)
        let segments = answer.segments
        let described = segments.map { "\($0.start_s)-\($0.end_s) \($0.label)" }
        // A window straddling a change is a segment of one window (about 1 s), dropped as flicker.
        try #require(segments.count == Self.sources.count, "\(described)")
        for (i, segment) in segments.enumerated() {
            #expect(abs(segment.start_s - Double(i) * Self.partSeconds) <= stride, "part \(i): \(described)")
            if i > 0 { #expect(segment.index != segments[i - 1].index, "\(described)") }
        }
        #expect(segments.last!.end_s > Double(Self.sources.count) * Self.partSeconds - stride)
    }
}
