import Foundation
import TestSupport
import Testing
import VideoDecode

/// AVI stores frames in decode order with no presentation times, and its index in a chunk after all the frames.
@Suite struct AVITests {
    /// A timeline walks forward, seeking over the gaps between windows: after a few hundred reordered frames
    /// FFmpeg's best-effort time turns to the packet that made a frame come out, two frames late, so the first
    /// frame after each seek takes its own index.
    @Test func aWalkOverReorderedFramesInAVIIsTimedAsInMP4() throws {
        let source = TestVideos.lavfi("testsrc2=size=160x120:rate=30")
            + ["-t", "24", "-g", "250", "-bf", "3", "-c:v", "libx264", "-preset", "veryfast", "-threads", "1"]
        let avi = try TestVideos.make("walk-reordered.avi", source + ["-f", "avi"])
        let mp4 = try TestVideos.make("walk-reordered.mp4", source + ["-f", "mp4"])
        let starts: [Double] = [0, 7, 14, 21]
        let (fromAVI, fromMP4) = (try walkedWindows(avi, starts: starts), try walkedWindows(mp4, starts: starts))
        #expect(zip(fromAVI.times, fromMP4.times).allSatisfy { abs($0 - $1) < 1e-9 })
        let same = fromAVI.values == fromMP4.values
        #expect(same)
    }

    // An interrupted recording has no index. FFmpeg then seeks nowhere past what it has read, and each clip was
    // decoded from the start: a 10-minute recording was refused for needing over 5000 frames.

    /// 100 s at 10 fps, a keyframe every 10 s, B-frames: as a camera or screen recorder writes AVI.
    static func recording(_ name: String, codec: [String]) throws -> Data {
        try TestVideos.make(name, TestVideos.lavfi("testsrc2=size=160x120:rate=10") + ["-t", "100", "-g", "100"] + codec + ["-f", "avi"])
    }

    static let codecs: [(name: String, arguments: [String])] = [
        ("h264", ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-pix_fmt", "yuv420p"]),
        ("mpeg4", ["-c:v", "mpeg4", "-vtag", "xvid", "-q:v", "5", "-bf", "2"]),
    ]

    @Test(arguments: codecs.map(\.name))
    func withoutItsIndexChunkAnAVIDecodesTheSameFramesFromItsKeyframes(_ codec: String) throws {
        let whole = try Self.recording("truncated-\(codec).avi", codec: Self.codecs.first { $0.name == codec }!.arguments)
        // The index chunk: "idx1", its size, then 16 bytes per frame; the frames before it stay whole.
        let start = try #require(whole.range(of: Data("idx1".utf8), options: .backwards)?.lowerBound)
        let cut = whole.prefix(upTo: start)
        let fromCut = try ClipDecoder.decode(cut, clips: 3)
        // Without the index FFmpeg (5.1 here, 8 in PyAV alike) states a shorter duration, which places the clips:
        // the whole file, sampled over that stretch, is the reference.
        #expect(fromCut.info.durationSeconds > 99 && fromCut.info.durationSeconds <= 100)
        let fromWhole = try ClipDecoder.decode(whole, clips: 3, range: 0...fromCut.info.durationSeconds)
        #expect(fromCut.frameTimes == fromWhole.frameTimes)
        let same = fromCut.values == fromWhole.values  // outside #expect, which would print both tensors
        #expect(same)
        // From a keyframe before each clip (at most a GOP and a clip each), not from the start (over 950 frames).
        #expect(fromCut.decodedFrames <= 3 * (100 + 11), "\(fromCut.decodedFrames) frames decoded")
    }

    /// Cut inside a frame, as a recorder killed mid-write leaves it: the clips still come from the frames there.
    @Test func anAVICutInsideAFrameStillDecodes() throws {
        let whole = try Self.recording("truncated-h264.avi", codec: Self.codecs[0].arguments)
        let cut = whole.prefix(whole.count * 6 / 10)
        let decoded = try ClipDecoder.decode(cut, clips: 3)
        #expect(decoded.info.durationSeconds > 50 && decoded.info.durationSeconds < 65, "\(decoded.info.durationSeconds) s")
        #expect(decoded.frameTimes.last!.last! > 50)
        #expect(decoded.decodedFrames <= 3 * (100 + 11), "\(decoded.decodedFrames) frames decoded")
    }
}

