import Foundation
import TestSupport
import Testing
@testable import VideoDecode

/// Containers that state no duration (a browser's MediaRecorder WebM, a live Matroska without cues): the duration
/// comes from the packets' times, read without decoding. Decoding every frame to learn it spent the 5000-frame
/// limit on any recording longer than about 3 minutes at 30 fps before a single clip was decoded.
@Suite struct DurationFromPacketsTests {
    @Test func aLiveMatroskaLongerThanTheFrameLimitDecodesAsItsMP4() throws {
        // 25 fps, so Matroska's millisecond times are exact and both files time every frame alike.
        let source = TestVideos.lavfi("testsrc2=size=160x120:rate=25") + ["-t", "20", "-c:v", "libx264", "-preset", "ultrafast",
                                                                          "-bf", "2", "-g", "50", "-pix_fmt", "yuv420p"]
        let live = try TestVideos.make("live-20s.mkv", source + ["-live", "1", "-f", "matroska"])
        let mp4 = try TestVideos.make("live-20s.mp4", source + ["-f", "mp4"])
        var limits = DecodeLimits.default
        #expect(try !Demuxer(live, limits: limits, deadline: Deadline(seconds: 5)).hasDuration)
        limits.maxDecodedFrames = 300  // the 500 frames of the whole recording would not fit
        for clips in [1, 3] {
            let fromLive = try ClipDecoder.decode(live, clips: clips, limits: limits)
            let fromMP4 = try ClipDecoder.decode(mp4, clips: clips)
            #expect(abs(fromLive.info.durationSeconds - 20) < 1e-9)
            #expect(abs(fromLive.info.durationSeconds - fromMP4.info.durationSeconds) < 1e-9)
            let sameValues = fromLive.values == fromMP4.values  // outside #expect, which would print both tensors
            #expect(sameValues, "\(clips) clips")
            #expect(fromLive.frameTimes == fromMP4.frameTimes)
        }
    }
}
