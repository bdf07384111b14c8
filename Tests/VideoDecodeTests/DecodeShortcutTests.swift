import Foundation
import TestSupport
import Testing
@testable import VideoDecode

/// Dropping non-reference frames no query needs and seeking by the keyframe index change how much is decoded,
/// never what comes out: on every kind of stream the clips are bit for bit those of decoding every frame.
@Suite struct DecodeShortcutTests {
    struct Source: Sendable, CustomTestStringConvertible {
        var name: String
        var arguments: [String]
        /// Whether the shortcuts save frames here: B-frames to drop or a keyframe index to seek by.
        var savesFrames: Bool
        var testDescription: String { name }
    }

    static func x264(_ name: String, rate: Int = 30, seconds: Int = 10, _ options: [String], savesFrames: Bool = true) -> Source {
        Source(name: name, arguments: TestVideos.lavfi("testsrc2=size=320x240:rate=\(rate)") + ["-t", "\(seconds)", "-c:v", "libx264",
               "-pix_fmt", "yuv420p"] + options, savesFrames: savesFrames)
    }

    static func vpx(_ name: String, _ options: [String], savesFrames: Bool = true) -> Source {
        Source(name: name, arguments: TestVideos.lavfi("testsrc2=size=320x240:rate=30") + ["-t", name.contains("8s") ? "8" : "6"] + options,
               savesFrames: savesFrames)
    }

    static let sources: [Source] = [
        x264("x264-bpyramid.mp4", ["-preset", "veryfast", "-bf", "2", "-g", "60"]),
        x264("x264-bpyramid-3b-scenecut.mp4", rate: 25, ["-preset", "medium", "-bf", "3", "-g", "50", "-keyint_min", "10"]),
        x264("x264-nopyramid.mp4", ["-preset", "veryfast", "-bf", "2", "-g", "45", "-x264-params", "b-pyramid=none"]),
        x264("x264-opengop.mp4", ["-preset", "veryfast", "-bf", "3", "-g", "40", "-x264-params", "open-gop=1"]),
        x264("x264-60fps.mp4", rate: 60, seconds: 6, ["-preset", "veryfast", "-bf", "2", "-g", "120"]),
        x264("x264-10fps.mp4", rate: 10, ["-preset", "veryfast", "-bf", "2", "-g", "20"]),
        x264("x264-bframes.mkv", ["-preset", "veryfast", "-bf", "2", "-g", "60"]),
        x264("x264-opengop.mkv", ["-preset", "veryfast", "-bf", "3", "-g", "40", "-x264-params", "open-gop=1"]),
        // Periodic intra refresh: the keyframes are recovery points, whose first frame comes a refresh later, so
        // nothing is dropped before a frame has come out.
        x264("x264-intrarefresh.mp4", rate: 25, seconds: 20, ["-preset", "veryfast", "-x264-params", "intra-refresh=1:keyint=50"]),
        x264("x264-intrarefresh.mkv", rate: 25, seconds: 20, ["-preset", "veryfast", "-x264-params", "intra-refresh=1:keyint=50"]),
        // No frames to drop, but a keyframe index (the cues) to seek and plan parallel stretches by.
        Source(name: "vp9-8s.webm", arguments: TestVideos.lavfi("testsrc2=size=320x240:rate=30") + ["-t", "8", "-c:v", "libvpx-vp9",
               "-deadline", "realtime", "-cpu-used", "8", "-g", "45"], savesFrames: true),
        // VP8, VP9 and AV1 are probed without decoding (`Demuxer.Probe.packets`): in WebM, Matroska and MP4, at 10 and
        // 12 bits and 4:4:4, from a start time other than zero, and live (no cues, no duration).
        vpx("vp8-8s.webm", ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-g", "45"]),
        vpx("vp9-yuv444p10-6s.mkv", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "45", "-pix_fmt", "yuv444p10le"]),
        vpx("vp9-offset-6s.webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "45", "-output_ts_offset", "3.5"]),
        vpx("vp9-6s.mp4", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "45"]),
        vpx("vp9-live-6s.webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "45", "-live", "1", "-f", "webm"],
            savesFrames: false),
        vpx("av1-6s.mp4", ["-c:v", "libaom-av1", "-usage", "realtime", "-cpu-used", "8", "-g", "45", "-pix_fmt", "yuv420p"]),
        vpx("av1-yuv420p12-6s.mkv", ["-c:v", "libaom-av1", "-usage", "realtime", "-cpu-used", "8", "-g", "45", "-pix_fmt", "yuv420p12le"]),
        // H.264 in Matroska is opened from its header, sequence header and first packet (`Demuxer.Probe.firstPacket`):
        // also from a start time other than zero, and behind an audio track.
        x264("x264-offset.mkv", seconds: 6, ["-preset", "veryfast", "-bf", "3", "-g", "50", "-output_ts_offset", "2.5"]),
        Source(name: "x264-audio-first.mkv", arguments: TestVideos.lavfi("sine=frequency=440") + TestVideos.lavfi("testsrc2=size=320x240:rate=25")
               + ["-t", "6", "-map", "0:a", "-map", "1:v", "-c:a", "libopus", "-c:v", "libx264", "-preset", "veryfast", "-bf", "2",
                  "-g", "50", "-pix_fmt", "yuv420p"], savesFrames: true),
        // FLV: FFmpeg's generic seek, onto the keyframes the demuxer has indexed.
        x264("x264-bframes.flv", ["-preset", "veryfast", "-bf", "2", "-g", "60", "-f", "flv"]),
        // MPEG-TS seeks go to the keyframe packets of the scan's index (`PacketIndex`).
        x264("x264-bframes.ts", ["-preset", "veryfast", "-bf", "2", "-g", "60", "-f", "mpegts"]),
        x264("x264-intrarefresh.ts", rate: 25, seconds: 20, ["-preset", "veryfast", "-x264-params", "intra-refresh=1:keyint=50",
             "-f", "mpegts"]),
        // Probed by decoding, by decoders without their loop filter (`Demuxer.Probe.decoding`): without B-frames (whose
        // reorder delay probing learns from seven frames), and in AVI, where the frames are timed by their order.
        x264("x264-baseline.ts", ["-preset", "veryfast", "-profile:v", "baseline", "-g", "60", "-f", "mpegts"]),
        // A broadcast capture's 33-bit clock wraps at about 26.5 hours: this one 3.7 s in.
        x264("x264-clockwrap.ts", ["-preset", "veryfast", "-bf", "2", "-g", "60", "-output_ts_offset", "95440", "-f", "mpegts"]),
        x264("x264-bframes.avi", seconds: 6, ["-preset", "veryfast", "-bf", "2", "-g", "60"], savesFrames: false),
        Source(name: "x264-vfr.mkv", arguments: TestVideos.lavfi("testsrc2=size=320x240:rate=30") + ["-t", "6", "-vf",
               "select='lt(n\\,60)+not(mod(n\\,3))'", "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "veryfast", "-bf", "2"],
               savesFrames: true),
        Source(name: "x264-nobframes.mp4", arguments: TestVideos.lavfi("testsrc2=size=320x240:rate=30") + ["-t", "10", "-c:v", "libx264",
               "-preset", "veryfast", "-bf", "0", "-g", "60"], savesFrames: false),
        Source(name: "x265-bframes.mp4", arguments: TestVideos.lavfi("testsrc2=size=320x240:rate=30") + ["-t", "6", "-c:v", "libx265",
               "-preset", "ultrafast", "-x265-params", "bframes=3:keyint=45:log-level=error"], savesFrames: true),
    ]

    /// Equal frame times and equal values; `#expect` on the arrays themselves would print megabytes.
    static func same(_ a: DecodedClips, _ b: DecodedClips) -> Bool {
        a.frameTimes == b.frameTimes && a.values == b.values
    }

    @Test(arguments: sources)
    func clipsAreThoseOfDecodingEveryFrame(_ source: Source) throws {
        let bytes = try TestVideos.make(source.name, source.arguments)
        var savedFrames = 0
        var threaded = DecodeLimits()
        threaded.decoderThreads = 0
        for clips in [1, 2, 5, 9] {
            let fast = try ClipDecoder.decode(bytes, clips: clips, limits: .default, usesShortcuts: true)
            let plain = try ClipDecoder.decode(bytes, clips: clips, limits: .default, usesShortcuts: false)
            #expect(Self.same(fast, plain), "\(clips) clips")
            // With threads to spare, clips that begin with a seek are decoded in parallel.
            let parallel = try ClipDecoder.decode(bytes, clips: clips, limits: threaded, usesShortcuts: true)
            #expect(Self.same(parallel, plain), "\(clips) clips in parallel")
            #expect(fast.decodedFrames <= plain.decodedFrames, "\(clips) clips: \(fast.decodedFrames) > \(plain.decodedFrames) frames")
            savedFrames += plain.decodedFrames - fast.decodedFrames
        }
        // A range inside the video, as timelines and `start_s` ask.
        let fast = try ClipDecoder.decode(bytes, clips: 3, range: 1.3...4.9, limits: .default, usesShortcuts: true)
        let plain = try ClipDecoder.decode(bytes, clips: 3, range: 1.3...4.9, limits: .default, usesShortcuts: false)
        #expect(Self.same(fast, plain))
        if source.savesFrames { #expect(savedFrames > 0) }
    }

    /// Probing learns no less for being spared: the same facts, however the demuxer learnt them.
    @Test(arguments: sources)
    func probingLessLearnsTheSame(_ source: Source) throws {
        let bytes = try TestVideos.make(source.name, source.arguments)
        let least = try Demuxer(bytes, limits: .default, deadline: Deadline(seconds: 5))
        let full = try Demuxer(bytes, limits: .default, deadline: Deadline(seconds: 5), probesLeast: false)
        #expect(full.probe == .decoding)
        #expect(least.info == full.info)
        #expect(least.startTimestamp == full.startTimestamp)
        #expect(least.hasDuration == full.hasDuration)
        // Opened from its SPS, or probed by decoders without their loop filter, the decoder starts from the delay a
        // full probe gives it.
        if [.firstPacket, .decoding].contains(least.probe) { #expect(least.reorderDelay == full.reorderDelay) }
        let expected: Demuxer.Probe = source.name.hasSuffix(".mp4") && source.name.hasPrefix("x26") ? .header
            : ["vp8", "vp9", "av1"].contains(String(source.name.prefix(3))) ? .packets
            : source.name.hasSuffix(".mkv") && source.name.hasPrefix("x264") ? .firstPacket : .decoding
        #expect(least.probe == expected)
    }

    /// A browser's MediaRecorder WebM states no duration, no keyframe index and no frame rate, and times its frames
    /// with jitter: probing learns the rate from the packets' times, which it reads without decoding as before.
    @Test func aRecorderWebMWithoutAFrameRateLearnsItFromItsPackets() throws {
        var bytes = try TestVideos.make("vp9-jitter-live-6s.webm", TestVideos.lavfi("testsrc2=size=320x240:rate=30") + ["-t", "6",
            "-vf", "setpts='(N/30+0.004*sin(N*1.7))/TB'", "-fps_mode", "passthrough", "-c:v", "libvpx-vp9", "-deadline", "realtime",
            "-cpu-used", "8", "-g", "45", "-live", "1", "-f", "webm"])
        // The track's DefaultDuration (element 0x23E383, a one-byte size) becomes a Void element of the same length.
        let element = try #require(bytes.range(of: Data([0x23, 0xE3, 0x83])))
        let length = 4 + Int(bytes[element.upperBound] & 0x7F)
        bytes.replaceSubrange(element.lowerBound..<element.lowerBound + length,
                              with: [0xEC, UInt8(0x80 | (length - 2))] + [UInt8](repeating: 0, count: length - 2))
        let least = try Demuxer(bytes, limits: .default, deadline: Deadline(seconds: 5))
        let full = try Demuxer(bytes, limits: .default, deadline: Deadline(seconds: 5), probesLeast: false)
        #expect(least.probe == .packets)
        #expect(least.info == full.info)
        #expect(least.info.fps == 30 && !least.hasDuration)
        for clips in [1, 4] {
            let fast = try ClipDecoder.decode(bytes, clips: clips, limits: .default, usesShortcuts: true)
            let plain = try ClipDecoder.decode(bytes, clips: clips, limits: .default, usesShortcuts: false)
            #expect(Self.same(fast, plain), "\(clips) clips")
        }
    }

    /// Probed without decoding, a WebM's size is its header's alone; frames larger than the header says are
    /// refused as too large all the same, when they are converted.
    @Test func framesLargerThanTheHeaderSaysAreTooLarge() throws {
        var bytes = try TestVideos.make("vp9-320x256-2s.webm", TestVideos.lavfi("testsrc2=size=320x256:rate=10") + ["-t", "2",
            "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"])
        // PixelWidth (0xB0) and PixelHeight (0xBA), two-byte values, rewritten to 64x48.
        for (element, value) in [(0xB0, 320), (0xBA, 256)] {
            let stated = Data([UInt8(element), 0x82, UInt8(value >> 8), UInt8(value & 0xFF)])
            let at = try #require(bytes.range(of: stated))
            bytes.replaceSubrange(at, with: [UInt8(element), 0x82, 0, element == 0xB0 ? 64 : 48])
        }
        var limits = DecodeLimits()
        limits.maxDimension = 100
        let demuxer = try Demuxer(bytes, limits: limits, deadline: Deadline(seconds: 5))
        #expect(demuxer.probe == .packets && demuxer.info.width == 64)
        #expect(throws: DecodeError.dimensionsTooLarge(width: 320, height: 256, limit: 100)) {
            _ = try ClipDecoder.decode(bytes, clips: 2, limits: limits)
        }
    }

    /// Matroska reads its cues only at a seek, so the demuxer makes one when it opens: before any clip is decoded
    /// the index already knows the keyframes to the end, and the first seek and the parallel stretches plan by it.
    @Test(arguments: ["x264-bframes.mkv", "vp9-8s.webm"])
    func matroskaKnowsItsKeyframesWhenItOpens(_ name: String) throws {
        let source = try #require(Self.sources.first { $0.name == name })
        let bytes = try TestVideos.make(source.name, source.arguments)
        let demuxer = try Demuxer(bytes, limits: .default, deadline: Deadline(seconds: 5))
        // Keyframes every 2 s (x264, -g 60 at 30 fps) or 1.5 s (VP9, -g 45): the last before 6.9 s is at 6 s.
        let keyframe = try #require(demuxer.indexedKeyframe(atOrBefore: 6.9))
        #expect(abs(keyframe - 6) < 0.01)
        let first = try Frame()
        #expect(try demuxer.decodeNext(into: first.frame, deadline: Deadline(seconds: 5)))
        #expect(demuxer.seconds(first.frame.pointee.pts) == 0, "the first frame is still the stream's first")
    }

    @Test(arguments: sources.filter { ["x264-bpyramid.mp4", "x264-opengop.mp4", "x264-vfr.mkv", "vp9-live-6s.webm"].contains($0.name) })
    func walksAreThoseOfDecodingEveryFrame(_ source: Source) throws {
        let bytes = try TestVideos.make(source.name, source.arguments)
        func walk(_ shortcuts: Bool) throws -> [DecodedClips] {
            var chunks: [DecodedClips] = []
            try ClipDecoder.walk(bytes, chunk: 3, usesShortcuts: shortcuts, starts: { duration in
                stride(from: 0, to: duration, by: 0.4).map { $0 }
            }) { chunks.append($0); return true }
            return chunks
        }
        let fast = try walk(true), plain = try walk(false)
        #expect(fast.count == plain.count)
        for (a, b) in zip(fast, plain) { #expect(Self.same(a, b)) }
    }

    @Test func parallelStretchesShareTheFrameBudgetAndReportItsError() throws {
        let bytes = try TestVideos.make(Self.sources[0].name, Self.sources[0].arguments)
        var limits = DecodeLimits()
        limits.decoderThreads = 0
        let all = try ClipDecoder.decode(bytes, clips: 5, limits: limits, usesShortcuts: true)
        // Each stretch alone needs fewer frames than this; together they need more.
        limits.maxDecodedFrames = all.decodedFrames - 10
        #expect(throws: DecodeError.tooManyFrames(limit: limits.maxDecodedFrames)) {
            _ = try ClipDecoder.decode(bytes, clips: 5, limits: limits, usesShortcuts: true)
        }
    }

    /// Damaged packets: the decoder loses frames that dropped frames may have counted on, and the run is
    /// decoded again without dropping. One centred clip, which both ways reach by the same seek (error
    /// concealment depends on what was decoded before, so other seeks may conceal differently).
    @Test func lostFramesFallBackToDecodingEveryFrame() throws {
        var bytes = try TestVideos.make(Self.sources[0].name, Self.sources[0].arguments)
        guard let mdat = bytes.range(of: Data("mdat".utf8)) else { Issue.record("no mdat box"); return }
        let start = mdat.upperBound + (bytes.count - mdat.upperBound) / 3
        for k in 0..<8 {
            let at = start + k * (bytes.count - start) / 10
            bytes.replaceSubrange(at..<min(bytes.count, at + 400), with: Data(repeating: 0, count: min(400, bytes.count - at)))
        }
        let fast = try ClipDecoder.decode(bytes, clips: 1, limits: .default, usesShortcuts: true)
        let plain = try ClipDecoder.decode(bytes, clips: 1, limits: .default, usesShortcuts: false)
        #expect(Self.same(fast, plain))
        for clips in [5, 9] { ClipDecoderTests.expectUsable(try ClipDecoder.decode(bytes, clips: clips), clips: clips) }
    }
}
