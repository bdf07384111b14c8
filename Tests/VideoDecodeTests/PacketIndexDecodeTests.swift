import Foundation
import TestSupport
import Testing
@testable import VideoDecode

/// Transport and program streams, which carry no index: seeks by the scan's keyframe positions, and joined
/// recordings read on one continuous clock (`PacketIndex`). Each decode is compared with the same frames read
/// another way: the stream copied into MP4 (whose index FFmpeg reads), or each recording decoded alone.
@Suite struct PacketIndexDecodeTests {
    static func h264(_ name: String, source: String, seconds: Int, gop: Int, format: String, extra: [String] = []) throws -> Data {
        try TestVideos.make(name, TestVideos.lavfi("\(source)=size=160x120:rate=25") + ["-t", "\(seconds)", "-c:v", "libx264",
                            "-preset", "ultrafast", "-bf", "2", "-g", "\(gop)", "-pix_fmt", "yuv420p"] + extra + ["-f", format])
    }

    /// The same packets in MP4.
    static func remux(_ name: String, _ source: String) throws -> Data {
        try TestVideos.make(name, ["-i", TestVideos.directory.appendingPathComponent(source).path, "-c", "copy", "-f", "mp4"])
    }

    static func expectSame(_ a: DecodedClips, _ b: DecodedClips, timeShift: Double = 0, _ comment: Comment? = nil) {
        let sameValues = a.values == b.values  // outside #expect, which would print both tensors
        #expect(sameValues, comment)
        let times = zip(a.frameTimes.joined(), b.frameTimes.joined()).map { abs($0 - $1 - timeShift) }
        #expect(times.allSatisfy { $0 < 1e-6 }, comment)
    }

    @Test func aLongGOPTransportStreamSeeksToItsKeyframes() throws {
        // ffmpeg's default GOP, 10 s: FFmpeg's own seek by time lands between keyframes, and decoding restarted
        // from the top for every clip (the whole of a 10-minute file, past the frame limit).
        let ts = try Self.h264("gop250.ts", source: "testsrc2", seconds: 40, gop: 250, format: "mpegts")
        let mp4 = try Self.remux("gop250.mp4", "gop250.ts")
        var limits = DecodeLimits.default
        limits.maxDecodedFrames = 700
        for threads in [1, 2] {
            limits.decoderThreads = threads
            let fromTS = try ClipDecoder.decode(ts, clips: 3, limits: limits)
            let fromMP4 = try ClipDecoder.decode(mp4, clips: 3, limits: limits)
            #expect(abs(fromTS.info.durationSeconds - fromMP4.info.durationSeconds) < 1e-6)
            Self.expectSame(fromTS, fromMP4, "\(threads) threads")
            // From the keyframe before each clip: at most a GOP and a clip each.
            #expect(fromTS.decodedFrames <= 3 * (250 + 27), "\(fromTS.decodedFrames) frames")
            let plain = try ClipDecoder.decode(ts, clips: 3, limits: limits, usesShortcuts: false)
            Self.expectSame(fromTS, plain)
        }
    }

    /// Parallel stretches open a demuxer each: they take the first one's scan instead of reading the file again.
    @Test func aSecondDemuxerTakesTheFirstOnesScan() throws {
        let ts = try Self.h264("gop250.ts", source: "testsrc2", seconds: 40, gop: 250, format: "mpegts")
        let first = try Demuxer(ts, limits: .default, deadline: Deadline(seconds: 5))
        let index = try #require(first.index)
        let second = try Demuxer(ts, limits: .default, deadline: Deadline(seconds: 5), scanned: index)
        #expect(second.index == index)
        #expect(second.info == first.info)
        // A scan of another file, which a second scan of this one could not produce, is taken as given.
        let other = try Self.h264("gop25.ts", source: "testsrc2", seconds: 4, gop: 25, format: "mpegts")
        let otherIndex = try #require(try Demuxer(other, limits: .default, deadline: Deadline(seconds: 5)).index)
        #expect(otherIndex != index)
        #expect(try Demuxer(ts, limits: .default, deadline: Deadline(seconds: 5), scanned: otherIndex).index == otherIndex)
    }

    @Test func anIntraRefreshTransportStreamGivesEachClipItsOwnFrames() throws {
        // No keyframe after the first: recovery points only, each showing its first frame a refresh (2 s) later. A
        // seek by time once gave a clip 16 copies of the first frame the decoder recovered; a seek to the recovery
        // point before a clip lands late, and going back to the start for each such clip spent 2343 frames on 10.
        let ts = try Self.h264("refresh.ts", source: "testsrc2", seconds: 60, gop: 50, format: "mpegts",
                               extra: ["-x264-params", "intra-refresh=1"])
        let mp4 = try Self.remux("refresh.mp4", "refresh.ts")
        var limits = DecodeLimits.default
        limits.maxDecodedFrames = 1000
        for clips in [1, 3, 10] {
            let fromTS = try ClipDecoder.decode(ts, clips: clips, limits: limits)
            Self.expectSame(fromTS, try ClipDecoder.decode(mp4, clips: clips), "\(clips) clips")
            for times in fromTS.frameTimes { #expect(zip(times, times.dropFirst()).allSatisfy { $0 < $1 }, "\(times)") }
        }
    }

    /// Three 2-second recordings, each with its own clock from 1.4 s, joined byte for byte.
    static func joined(format: String, ext: String, codec: [String]) throws -> (whole: Data, parts: [Data]) {
        let parts = try ["testsrc2", "smptebars", "rgbtestsrc"].map { source in
            try TestVideos.make("part-\(source).\(ext)", TestVideos.lavfi("\(source)=size=160x120:rate=25") + ["-t", "2"] + codec
                                + ["-f", format])
        }
        return (parts.reduce(Data(), +), parts)
    }

    @Test(arguments: [("mpegts", "ts", ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "25", "-pix_fmt", "yuv420p"]),
                      ("mpeg", "mpg", ["-c:v", "mpeg2video", "-q:v", "4", "-g", "12"])])
    func joinedRecordingsReadAsOne(format: String, ext: String, codec: [String]) throws {
        let (whole, parts) = try Self.joined(format: format, ext: ext, codec: codec)
        let all = try ClipDecoder.decode(whole, clips: 1)
        #expect(abs(all.info.durationSeconds - 6) < 0.05, "\(all.info.durationSeconds) s")
        for (k, part) in parts.enumerated() {
            let offset = 2.0 * Double(k)
            let alone = try ClipDecoder.decode(part, clips: 1, range: 0.4...1.4667)
            let inWhole = try ClipDecoder.decode(whole, clips: 1, range: (offset + 0.4)...(offset + 1.4667))
            Self.expectSame(inWhole, alone, timeShift: offset, "recording \(k)")
        }
        // Clips spread over the whole file reach the last recording.
        let spread = try ClipDecoder.decode(whole, clips: 6)
        #expect(spread.spans.last!.end_s > 5.5)
    }
}
