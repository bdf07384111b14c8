import Foundation
import TestSupport
import Testing
import VideoDecode

/// Containers that store frames in decode order, and the broadcast ones (DV, MXF): each is checked against the
/// same bitstream in a container whose frame times are known good.
@Suite struct ContainerTimingTests {
    /// AVI, ASF as FFmpeg writes it, and MXF whose index states no reordering (FFmpeg's muxer writes none for H.264)
    /// give H.264 frames no usable presentation time once B-frames reorder them: each clip came from frames up to
    /// two places off (in MXF every clip). The same encoding in MP4, which stores the times, is the reference, over
    /// stretches placed alike (ASF states a longer duration).
    @Test(arguments: ["avi", "asf", "mxf"])
    func reorderedFramesWithoutTimesAreTimedAsInMP4(_ container: String) throws {
        // One encoder thread, so both files hold the same bitstream.
        let source = TestVideos.lavfi("testsrc2=size=320x240:rate=30")
            + ["-t", "6", "-g", "60", "-bf", "3", "-c:v", "libx264", "-preset", "veryfast", "-threads", "1"]
        let stored = try TestVideos.make("reordered-h264.\(container)", source + ["-f", container])
        let mp4 = try TestVideos.make("reordered-h264.mp4", source + ["-f", "mp4"])
        try expectSameClips(stored, mp4, ranges: [0.0...2.0, 1.9...3.3, 3.5...5.9, 0.0...6.0])
    }

    /// An open group of pictures starts at a recovery-point I picture whose leading pictures (decoded after it, shown
    /// before it) reference the group before. After a seek onto one, timing by order put every frame from there
    /// two frames early: 3 of 10 clips came from the wrong frames.
    @Test(arguments: ["avi", "mxf"])
    func openGOPsTimedByOrderAreTimedAsInMP4(_ container: String) throws {
        let source = TestVideos.lavfi("testsrc2=size=160x120:rate=30000/1001")
            + ["-t", "30", "-g", "50", "-bf", "2", "-c:v", "libx264", "-preset", "veryfast", "-x264-params", "open-gop=1",
               "-threads", "1"]
        let stored = try TestVideos.make("open-gop.\(container)", source + ["-f", container])
        let mp4 = try TestVideos.make("open-gop.mp4", source + ["-f", "mp4"])
        for threads in [1, 2] {
            var limits = DecodeLimits.default
            limits.decoderThreads = threads
            let fromStored = try ClipDecoder.decode(stored, clips: 10, limits: limits)
            let fromMP4 = try ClipDecoder.decode(mp4, clips: 10, limits: limits)
            #expect(zip(fromStored.frameTimes.joined(), fromMP4.frameTimes.joined()).allSatisfy { abs($0 - $1) < 1e-9 })
            let same = fromStored.values == fromMP4.values
            #expect(same, "\(threads) threads")
            // From the keyframe before each clip, not from the start.
            #expect(fromStored.decodedFrames < 10 * (50 + 33), "\(fromStored.decodedFrames) frames decoded")
        }
    }

    /// MXF states MPEG-2's reordering in its index (temporal offsets), so the frames keep their own times, with
    /// seeks into groups of 12 pictures.
    @Test func reorderedMPEG2InMXFIsTimedAsInMP4() throws {
        let source = TestVideos.lavfi("testsrc2=size=320x240:rate=25")
            + ["-t", "6", "-g", "12", "-bf", "2", "-c:v", "mpeg2video", "-q:v", "4", "-threads", "1"]
        let mxf = try TestVideos.make("reordered-mpeg2.mxf", source + ["-f", "mxf"])
        let mp4 = try TestVideos.make("reordered-mpeg2.mp4", source + ["-f", "mp4"])
        try expectSameClips(mxf, mp4, ranges: [0.0...2.0, 1.9...3.3, 3.5...5.9, 0.0...6.0])
    }

    /// A clip cut without re-encoding (`ffmpeg -ss 3 -i in.mp4 -c copy`, as datasets are often cut) keeps the frames
    /// from the keyframe before the cut, and an edit list that starts the video at the cut: the frames before it
    /// are decoded as references but are not the video's. Each clip of the cut file is the source's clip three
    /// seconds later, frame for frame, and a walk gives the same windows.
    @Test(arguments: ["mp4", "mov"])
    func aClipCutWithAnEditListStartsAtTheCut(_ container: String) throws {
        let source = try TestVideos.make("editlist-source.mp4", TestVideos.lavfi("testsrc2=size=320x240:rate=30")
            + ["-t", "8", "-g", "60", "-bf", "2", "-c:v", "libx264", "-preset", "veryfast", "-threads", "1"])
        let sourcePath = TestVideos.directory.appendingPathComponent("editlist-source.mp4").path
        // Keyframes every 2 s: the cut at 3 s keeps 30 frames before it.
        let cut = try TestVideos.make("editlist-cut.\(container)", ["-ss", "3", "-i", sourcePath, "-t", "4", "-c", "copy"])
        let info = try ClipDecoder.decode(cut, clips: 1).info
        // `-t 4` with stream copy keeps 122 frames: PyAV reads 4.134 s.
        #expect(abs(info.durationSeconds - 4.134) < 0.001, "\(info.durationSeconds) s")
        // Starts off the 1/15 s sampling grid, so that no grid time falls on a frame's time.
        for (range, clips) in [(0.51...1.8, 1), (0.0...4.0, 3), (2.31...3.95, 2)] {
            let fromCut = try ClipDecoder.decode(cut, clips: clips, range: range)
            let fromSource = try ClipDecoder.decode(source, clips: clips, range: (range.lowerBound + 3)...(range.upperBound + 3))
            let shift = zip(fromCut.frameTimes.joined(), fromSource.frameTimes.joined()).map { abs($0 + 3 - $1) }.max() ?? 1
            #expect(shift < 1e-6, "\(range)")
            #expect(fromCut.frameTimes.joined().allSatisfy { $0 >= 0 }, "\(range): a frame from before the cut")
            let same = fromCut.values == fromSource.values
            #expect(same, "\(range)")
        }
        let walkedCut = try walkedWindows(cut, starts: [0.01, 1.01, 2.01])
        let walkedSource = try walkedWindows(source, starts: [3.01, 4.01, 5.01])
        let sameWindows = walkedCut.values == walkedSource.values
        #expect(sameWindows)
        #expect(zip(walkedCut.times, walkedSource.times).allSatisfy { abs($0 + 3 - $1) < 1e-6 })
    }

    static let mxfCodecs: [(String, [String])] = [
        ("mpeg2", ["-c:v", "mpeg2video", "-q:v", "4", "-g", "12", "-bf", "2"]),
        ("dnxhr", ["-c:v", "dnxhd", "-profile:v", "dnxhr_lb", "-pix_fmt", "yuv422p"]),
        ("h264", ["-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-bf", "3"]),
    ]

    static func wholeMXF(_ codec: String) throws -> Data {
        try TestVideos.make("whole-\(codec).mxf", TestVideos.lavfi("testsrc2=size=320x240:rate=25")
            + ["-t", "30", "-threads", "1"] + mxfCodecs.first { $0.0 == codec }!.1 + ["-f", "mxf"])
    }

    /// An MXF file cut short (an interrupted recording) still states its whole duration, loses the index tables in
    /// its footer, and in places the times of its packets: clips past the cut repeated one frame with times FFmpeg
    /// made up, or came from frames long before. The frames it holds are the reference: the whole file sampled over
    /// the same stretch, on one thread and in parallel stretches, and walked by overlapping windows.
    @Test(arguments: mxfCodecs.map(\.0))
    func aCutMXFFileIsSampledOverTheFramesItHolds(_ codec: String) throws {
        let whole = try Self.wholeMXF(codec)
        let cut = whole.prefix(whole.count / 2)
        for threads in [1, 2] {
            var limits = DecodeLimits.default
            limits.decoderThreads = threads
            let fromCut = try ClipDecoder.decode(cut, clips: 3, limits: limits)
            #expect(fromCut.info.durationSeconds > 10 && fromCut.info.durationSeconds < 20, "\(fromCut.info.durationSeconds) s")
            let fromWhole = try ClipDecoder.decode(whole, clips: 3, range: 0...fromCut.info.durationSeconds, limits: limits)
            #expect(zip(fromCut.frameTimes.joined(), fromWhole.frameTimes.joined()).allSatisfy { abs($0 - $1) < 1e-9 },
                    "\(threads) threads: \(fromCut.frameTimes) against \(fromWhole.frameTimes)")
            let same = fromCut.values == fromWhole.values
            #expect(same, "\(threads) threads")
            // One pass forward, however many threads: no stretch can start anywhere but at the start.
            #expect(fromCut.decodedFrames <= Int(fromCut.info.durationSeconds * 25) + 1, "\(fromCut.decodedFrames) frames")
        }
        // Windows that overlap send a chunk's first query back before the frame the last chunk ended on.
        let starts: [Double] = [0, 0.5, 1, 1.5, 7, 7.5, 8]
        let (walkedCut, walkedWhole) = (try walkedWindows(cut, starts: starts), try walkedWindows(whole, starts: starts))
        #expect(zip(walkedCut.times, walkedWhole.times).allSatisfy { abs($0 - $1) < 1e-9 })
        let same = walkedCut.values == walkedWhole.values
        #expect(same)
    }

    /// Cut just before its footer partition (the upload of a finished file that stopped in its last bytes), an MXF file
    /// holds every frame it states but has lost its index: a seek then lands by a guess from the bit rate, and the
    /// frame found was labelled with the time asked for.
    @Test(arguments: ["mpeg2", "h264"])
    func anMXFFileWithoutItsFooterIsSampledAsTheWholeFile(_ codec: String) throws {
        let whole = try Self.wholeMXF(codec)
        // The footer partition pack's key (SMPTE 377M), its last occurrence.
        let footerKey = Data([0x06, 0x0E, 0x2B, 0x34, 0x02, 0x05, 0x01, 0x01, 0x0D, 0x01, 0x02, 0x01, 0x01, 0x04])
        let footer = try #require(whole.range(of: footerKey, options: .backwards)?.lowerBound)
        let cut = whole.prefix(upTo: footer)
        let fromCut = try ClipDecoder.decode(cut, clips: 5)
        let fromWhole = try ClipDecoder.decode(whole, clips: 5, range: 0...fromCut.info.durationSeconds)
        #expect(fromCut.info.durationSeconds > 29, "\(fromCut.info.durationSeconds) s")
        #expect(zip(fromCut.frameTimes.joined(), fromWhole.frameTimes.joined()).allSatisfy { abs($0 - $1) < 1e-9 },
                "\(fromCut.frameTimes) against \(fromWhole.frameTimes)")
        let same = fromCut.values == fromWhole.values
        #expect(same)
    }

    /// DV, as camcorders and tape captures store it: a raw DV stream, and the same frames in AVI, QuickTime and MXF,
    /// PAL 4:2:0 and NTSC 4:1:1.
    @Test(arguments: [("pal", "25", "720x576", "yuv420p"), ("ntsc", "30000/1001", "720x480", "yuv411p")])
    func dvDecodesAlikeInEveryContainer(_ standard: String, _ rate: String, _ size: String, _ format: String) throws {
        let raw = try TestVideos.make("dv-\(standard).dv", TestVideos.lavfi("testsrc2=size=\(size):rate=\(rate)")
            + ["-t", "3", "-c:v", "dvvideo", "-pix_fmt", format, "-f", "dv"])
        let fromRaw = try ClipDecoder.decode(raw, clips: 3)
        #expect(fromRaw.info.codec == "dvvideo" && fromRaw.info.container == "dv")
        #expect(abs(fromRaw.info.durationSeconds - 3) < 0.05, "\(fromRaw.info.durationSeconds) s")
        for container in ["avi", "mov", "mxf"] {
            let name = "dv-\(standard).\(container)"
            let bytes = try TestVideos.make(name, ["-i", TestVideos.directory.appendingPathComponent("dv-\(standard).dv").path,
                                                   "-c", "copy", "-f", container])
            let decoded = try ClipDecoder.decode(bytes, clips: 3)
            #expect(zip(decoded.frameTimes.joined(), fromRaw.frameTimes.joined()).allSatisfy { abs($0 - $1) < 1e-9 }, "\(name)")
            let same = decoded.values == fromRaw.values  // outside #expect, which would print both tensors
            #expect(same, "\(name)")
        }
    }

    private func expectSameClips(_ stored: Data, _ reference: Data, ranges: [ClosedRange<Double>]) throws {
        var limits = DecodeLimits.default
        for (range, threads) in zip(ranges, [1, 1, 2, 2]) {
            limits.decoderThreads = threads
            let fromStored = try ClipDecoder.decode(stored, clips: 1, range: range, limits: limits)
            let fromReference = try ClipDecoder.decode(reference, clips: 1, range: range, limits: limits)
            let times = zip(fromStored.frameTimes.joined(), fromReference.frameTimes.joined()).map { abs($0 - $1) }.max() ?? 1
            #expect(times < 1e-9, "\(range), \(threads) threads")
            let same = fromStored.values == fromReference.values
            #expect(same, "\(range), \(threads) threads")
        }
    }
}
