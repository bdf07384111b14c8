import Foundation
import TestSupport
import Testing
@testable import VideoDecode

/// Walking a video window by window: each window's clip is exactly the clip a single-clip decode restricted to
/// that window's time range gives, on constant and on variable frame rate, and a chunk holds only its clips.
@Suite struct WindowWalkTests {
    static let window = ClipSampling.clipSeconds

    static func windowStarts(duration: Double, stride: Double = window) -> [Double] {
        var starts: [Double] = []
        var a = 0.0
        while a < duration - 1e-9 {
            starts.append(a)
            a += stride
        }
        return starts
    }

    static func walk(_ bytes: Data, stride: Double = window, chunk: Int) throws -> [(clip: DecodedClips, index: Int)] {
        var out: [(DecodedClips, Int)] = []
        try ClipDecoder.walk(bytes, chunk: chunk, starts: { windowStarts(duration: $0, stride: stride) }) { clips in
            #expect(clips.clipCount <= chunk && clips.values.count == clips.clipCount * ClipSpec.kinetics.elementCount)
            for i in 0..<clips.clipCount { out.append((clips, i)) }
            return true
        }
        return out
    }

    static func check(_ bytes: Data, stride: Double = window, chunk: Int) throws {
        let walked = try walk(bytes, stride: stride, chunk: chunk)
        let info = try ClipDecoder.decode(bytes, clips: 1).info
        let starts = windowStarts(duration: info.durationSeconds, stride: stride)
        #expect(walked.count == starts.count)
        let size = ClipSpec.kinetics.elementCount
        for (k, (chunkClips, i)) in walked.enumerated() {
            let alone = try ClipDecoder.decode(bytes, clips: 1, range: starts[k]...(starts[k] + window))
            #expect(chunkClips.frameTimes[i] == alone.frameTimes[0], "window \(k)")
            #expect(Array(chunkClips.values[i * size..<(i + 1) * size]) == alone.values, "window \(k)")
        }
    }

    @Test func windowsOfAConstantFrameRateVideoMatchTheirOwnRangeDecode() throws {
        let video = try TestVideos.make("walk_cfr.mp4", TestVideos.lavfi("testsrc2=size=320x240:rate=25") + ["-t", "6", "-c:v", "libx264", "-g", "50", "-pix_fmt", "yuv420p"])
        try Self.check(video, chunk: 2)
        try Self.check(video, stride: 0.5, chunk: 3)  // overlapping windows
    }

    @Test func windowsOfAVariableFrameRateVideoUseTheFramesOwnTimes() throws {
        // 30 fps for the first second, then every third frame: 10 fps.
        let video = try TestVideos.make("walk_vfr.mkv", TestVideos.lavfi("testsrc2=size=320x240:rate=30") + ["-t", "5", "-vf",
            "select='lt(n\\,30)+not(mod(n\\,3))'", "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast"])
        try Self.check(video, chunk: 3)
        // A window in the 10 fps part samples frames 0.1 s apart, each at its own timestamp.
        let walked = try Self.walk(video, chunk: 3)
        let late = walked[3].clip.frameTimes[walked[3].index]
        let steps = Set(zip(late, late.dropFirst()).map { (($1 - $0) * 100).rounded() / 100 }.filter { $0 > 0 })
        #expect(steps == [0.1], "\(late)")
    }

    @Test func aWalkCanStopEarly() throws {
        let video = try TestVideos.h264(seconds: 4, gop: 30)
        var chunks = 0
        try ClipDecoder.walk(video, chunk: 1, starts: { Self.windowStarts(duration: $0) }) { _ in
            chunks += 1
            return chunks < 2
        }
        #expect(chunks == 2)
    }
}
