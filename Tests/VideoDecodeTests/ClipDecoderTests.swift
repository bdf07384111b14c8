import Foundation
import TestSupport
import Testing
import VideoDecode

/// Real files made by ffmpeg: every container and pixel format the service promises, and the limits.
@Suite struct ClipDecoderTests {
    static let clipValues = 3 * 16 * 112 * 112

    static func expectUsable(_ decoded: DecodedClips, clips: Int = 1) {
        #expect(decoded.shape == [clips, 3, 16, 112, 112])
        #expect(decoded.values.count == clips * clipValues)
        #expect(decoded.values.allSatisfy { $0.isFinite && $0 >= -1.9 && $0 <= 2.88 })
        for times in decoded.frameTimes {
            #expect(times.count == 16)
            #expect(zip(times, times.dropFirst()).allSatisfy { $0 <= $1 }, "frame times go backwards: \(times)")
        }
    }

    struct Source: Sendable, CustomTestStringConvertible {
        var name: String
        var arguments: [String]
        var container: String
        var codec: String
        var testDescription: String { name }
    }

    static let sources: [Source] = [
        Source(name: "vp9.webm", arguments: TestVideos.lavfi("testsrc2=size=320x240:rate=25") + ["-t", "2", "-c:v", "libvpx-vp9",
               "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"], container: "matroska,webm", codec: "vp9"),
        Source(name: "mpeg4_audio.avi", arguments: TestVideos.lavfi("testsrc2=size=320x240:rate=25") + TestVideos.lavfi("sine=frequency=440")
               + ["-t", "2", "-c:v", "mpeg4", "-c:a", "pcm_s16le", "-shortest"], container: "avi", codec: "mpeg4"),
        Source(name: "anim.gif", arguments: TestVideos.lavfi("testsrc2=size=160x120:rate=10") + ["-t", "2"], container: "gif", codec: "gif"),
        Source(name: "mjpeg.mkv", arguments: TestVideos.lavfi("testsrc2=size=320x240:rate=25") + ["-t", "2", "-c:v", "mjpeg",
               "-pix_fmt", "yuvj420p"], container: "matroska,webm", codec: "mjpeg"),
        Source(name: "10bit.mkv", arguments: TestVideos.lavfi("testsrc2=size=320x240:rate=25") + ["-t", "2", "-c:v", "libx264",
               "-preset", "ultrafast", "-pix_fmt", "yuv420p10le"], container: "matroska,webm", codec: "h264"),
        Source(name: "odd_444.mp4", arguments: TestVideos.lavfi("testsrc2=size=333x187:rate=30") + ["-t", "2", "-c:v", "libx264",
               "-preset", "ultrafast", "-pix_fmt", "yuv444p"], container: "mov,mp4,m4a,3gp,3g2,mj2", codec: "h264"),
        Source(name: "rgb.avi", arguments: TestVideos.lavfi("testsrc2=size=160x120:rate=15") + ["-t", "2", "-c:v", "rawvideo",
               "-pix_fmt", "bgr24"], container: "avi", codec: "rawvideo"),
        Source(name: "mpeg2.ts", arguments: TestVideos.lavfi("testsrc2=size=320x240:rate=25") + ["-t", "2", "-c:v", "mpeg2video"],
               container: "mpegts", codec: "mpeg2video"),
        Source(name: "flv1.flv", arguments: TestVideos.lavfi("testsrc2=size=320x240:rate=25") + ["-t", "2", "-c:v", "flv1"],
               container: "flv", codec: "flv"),
        Source(name: "theora.ogv", arguments: TestVideos.lavfi("testsrc2=size=320x240:rate=25") + ["-t", "2", "-c:v", "libtheora"],
               container: "ogg", codec: "theora"),
    ]

    @Test(arguments: sources)
    func decodesEveryPromisedFormat(_ source: Source) throws {
        let bytes = try TestVideos.make(source.name, source.arguments)
        let decoded = try ClipDecoder.decode(bytes, clips: 2)
        Self.expectUsable(decoded, clips: 2)
        #expect(decoded.info.container == source.container)
        #expect(decoded.info.codec == source.codec)
        #expect(decoded.info.durationSeconds > 1.5 && decoded.info.durationSeconds < 2.5)
    }

    @Test func h264WithBFramesSeeksInsteadOfDecodingEverything() throws {
        let bytes = try TestVideos.h264(seconds: 10, gop: 30)
        let decoded = try ClipDecoder.decode(bytes, clips: 1)
        Self.expectUsable(decoded)
        #expect(decoded.info.width == 320 && decoded.info.height == 240 && decoded.info.fps == 30)
        #expect(decoded.info.durationSeconds == 10)
        // Centre clip of a 300-frame video: one GOP before it at most plus the clip's 32 frames.
        #expect(decoded.decodedFrames < 100, "decoded \(decoded.decodedFrames) frames")
        let start = (10 - 16.0 / 15) / 2
        for (k, t) in decoded.frameTimes[0].enumerated() {
            let grid = start + Double(k) / 15
            #expect(t <= grid + 1e-9 && grid - t < 1.0 / 30 + 1e-9, "frame \(t) for grid time \(grid)")
        }
    }

    @Test func fiveClipsMatchFiveSeparateDecodes() throws {
        let bytes = try TestVideos.h264(seconds: 6, gop: 60)
        let five = try ClipDecoder.decode(bytes, clips: 5)
        Self.expectUsable(five, clips: 5)
        let starts = ClipSampling.clipStarts(duration: five.info.durationSeconds, count: 5)
        #expect(zip(five.frameTimes, starts).allSatisfy { abs($0[0] - $1) < 1.0 / 30 + 1e-9 })
        // Each clip differs from the others: they come from different parts of the video.
        let first = five.values[0..<Self.clipValues], last = five.values[4 * Self.clipValues..<5 * Self.clipValues]
        #expect(first != last)
    }

    @Test func shortVideosRepeatTheirLastFrame() throws {
        let eight = try TestVideos.make("eight.mp4", TestVideos.lavfi("testsrc2=size=320x240:rate=30") + ["-frames:v", "8",
                                                                                                        "-c:v", "libx264", "-preset", "ultrafast"])
        let decoded = try ClipDecoder.decode(eight, clips: 1)
        Self.expectUsable(decoded)
        #expect(Set(decoded.frameTimes[0]).count == 8 || decoded.frameTimes[0].last == decoded.frameTimes[0][15])
        #expect(abs(decoded.frameTimes[0][15] - 7.0 / 30) < 1e-6)
        let one = try TestVideos.make("one.mp4", TestVideos.lavfi("testsrc2=size=320x240:rate=30") + ["-frames:v", "1", "-c:v", "libx264"])
        let single = try ClipDecoder.decode(one, clips: 3)
        Self.expectUsable(single, clips: 3)
        let plane = 112 * 112
        // All 48 frames are the same picture.
        for frame in 1..<16 {
            #expect(single.values[frame * plane..<(frame + 1) * plane] == single.values[0..<plane])
        }
    }

    @Test func variableFrameRate() throws {
        // 30 fps for a second, then every third frame: timestamps, not frame counts, decide.
        let bytes = try TestVideos.make("vfr.mkv", TestVideos.lavfi("testsrc2=size=320x240:rate=30") + ["-t", "3", "-vf",
            "select='lt(n\\,30)+not(mod(n\\,3))'", "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast"])
        let decoded = try ClipDecoder.decode(bytes, clips: 3)
        Self.expectUsable(decoded, clips: 3)
        let starts = ClipSampling.clipStarts(duration: decoded.info.durationSeconds, count: 3)
        for (clip, start) in starts.enumerated() {
            for (k, t) in decoded.frameTimes[clip].enumerated() {
                let grid = start + Double(k) / 15
                // Before 1 s frames are 1/30 apart, after it 1/10.
                // Matroska keeps milliseconds, so a frame may sit up to 1 ms past its nominal time.
                #expect(t <= grid + 1e-9 && grid - t < (grid < 1 ? 1.0 / 30 : 0.1) + 0.002, "clip \(clip) frame \(t) for \(grid)")
            }
        }
    }

    @Test func rotationIsAppliedLikeAutorotate() throws {
        // Top half white, bottom half black. `rotate=90` writes a display matrix that ffmpeg's autorotate undoes by
        // turning the picture 90 degrees counter-clockwise (270 clockwise): white ends up on the left.
        let pattern = TestVideos.lavfi("color=black:size=320x240:rate=15") + ["-t", "1", "-vf",
            "drawbox=x=0:y=0:w=320:h=120:color=white:t=fill", "-c:v", "libx264", "-preset", "ultrafast"]
        let upright = try ClipDecoder.decode(TestVideos.make("upright.mp4", pattern), clips: 1)
        _ = try TestVideos.make("upright_copy.mp4", pattern)
        let rotatedBytes = try TestVideos.make("rotated.mp4", ["-i", TestVideos.directory.appendingPathComponent("upright_copy.mp4").path,
                                                              "-c", "copy", "-metadata:s:v:0", "rotate=90"])
        let rotated = try ClipDecoder.decode(rotatedBytes, clips: 1)
        #expect(upright.info.rotation == 0 && rotated.info.rotation == 270)
        func mean(_ d: DecodedClips, rows: Range<Int>, columns: Range<Int>) -> Float {
            var sum: Float = 0
            for y in rows { for x in columns { sum += d.values[y * 112 + x] } }
            return sum / Float(rows.count * columns.count)
        }
        #expect(mean(upright, rows: 0..<50, columns: 0..<112) > mean(upright, rows: 62..<112, columns: 0..<112) + 2)
        #expect(mean(rotated, rows: 0..<112, columns: 0..<50) > mean(rotated, rows: 0..<112, columns: 62..<112) + 2)
    }

    @Test func truncatedFilesGiveFramesOrATypedError() throws {
        let fast = try TestVideos.h264(seconds: 4, gop: 30, faststart: true)
        // moov first: half a file still has half its frames.
        Self.expectUsable(try ClipDecoder.decode(fast.prefix(fast.count / 2), clips: 1))
        let slow = try TestVideos.h264(seconds: 4, gop: 30)
        for data in [fast, slow] {
            for fraction in [0.01, 0.1, 0.5, 0.9, 0.99] {
                do {
                    Self.expectUsable(try ClipDecoder.decode(data.prefix(Int(Double(data.count) * fraction)), clips: 2), clips: 2)
                } catch is DecodeError {
                }
            }
        }
    }

    @Test func rejectsWhatIsNotAVideo() throws {
        #expect(throws: DecodeError.emptyInput) { try ClipDecoder.decode(Data(), clips: 1) }
        var random = SystemRandomNumberGenerator()
        let noise = Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &random) })
        #expect { try ClipDecoder.decode(noise, clips: 1) } throws: { ($0 as? DecodeError).map(Self.isUnsupported) ?? false }
        #expect { try ClipDecoder.decode(Data("just some text\n".utf8), clips: 1) } throws: { ($0 as? DecodeError).map(Self.isUnsupported) ?? false }
        let audio = try TestVideos.make("audio.m4a", TestVideos.lavfi("sine=frequency=440") + ["-t", "1", "-c:a", "aac"])
        #expect { try ClipDecoder.decode(audio, clips: 1) } throws: {
            ($0 as? DecodeError)?.kind == .noVideoStream
        }
        let mp3 = try TestVideos.make("audio.mp3", TestVideos.lavfi("sine=frequency=440") + ["-t", "1"])
        #expect(throws: DecodeError.self) { try ClipDecoder.decode(mp3, clips: 1) }
    }

    @Test func playlistsAndConcatListsAreNeverFollowed() throws {
        let target = TestVideos.directory.appendingPathComponent("target.mp4").path
        _ = try TestVideos.h264()
        for text in ["#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n\(target)\n#EXTINF:4.0,\nhttp://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n",
                     "ffconcat version 1.0\nfile '\(target)'\nfile '/etc/passwd'\n"] {
            #expect { try ClipDecoder.decode(Data(text.utf8), clips: 1) } throws: { ($0 as? DecodeError).map(Self.isUnsupported) ?? false }
        }
    }

    @Test func limitsAreEnforced() throws {
        let bytes = try TestVideos.h264(seconds: 4)
        var limits = DecodeLimits()
        limits.maxDimension = 200
        #expect(throws: DecodeError.dimensionsTooLarge(width: 320, height: 240, limit: 200)) { try ClipDecoder.decode(bytes, clips: 1, limits: limits) }
        limits = DecodeLimits()
        limits.maxDurationSeconds = 3
        #expect(throws: DecodeError.tooLong(seconds: 4, limit: 3)) { try ClipDecoder.decode(bytes, clips: 1, limits: limits) }
        limits = DecodeLimits()
        limits.maxDecodedFrames = 5
        #expect(throws: DecodeError.tooManyFrames(limit: 5)) { try ClipDecoder.decode(bytes, clips: 1, limits: limits) }
        limits = DecodeLimits()
        limits.deadlineSeconds = 0
        #expect(throws: DecodeError.deadlineExceeded(seconds: 0)) { try ClipDecoder.decode(bytes, clips: 1, limits: limits) }
    }

    static func isUnsupported(_ error: DecodeError) -> Bool {
        error.kind == .unsupportedContainer
    }
}
