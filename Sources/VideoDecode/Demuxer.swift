import CFFmpeg
import Cores
import Foundation

/// An open container over a `MemoryInput`, its chosen video stream and that stream's decoder.
///
/// Only whitelisted demuxers and decoders run; every nested open (`io_open`: playlists, concat lists,
/// external references) is refused, so nothing outside the buffer is ever read.
final class Demuxer {
    /// Demuxers accepted: real video containers. Names as libavformat spells them.
    static let containers = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts,flv,ogg,gif,asf,mpeg,dv,mxf"
    /// Decoders accepted: the video codecs those containers carry in practice.
    static let decoders = [
        "h264", "hevc", "vp8", "vp9", "av1", "libdav1d", "libaom-av1", "mpeg4", "msmpeg4", "msmpeg4v2", "mpeg1video",
        "mpeg2video", "mjpeg", "gif", "png", "apng", "h263", "flv", "vp6f", "theora", "vc1", "wmv1", "wmv2", "wmv3",
        "prores", "rawvideo", "v210", "qtrle", "ffv1", "dnxhd", "huffyuv", "ffvhuff", "utvideo", "dvvideo",
    ].joined(separator: ",")

    private let formatContext: FormatContext
    private let codecContext: CodecContext
    private let packetOwner: Packet
    private var format: UnsafeMutablePointer<AVFormatContext> { formatContext.pointer! }
    private var codec: UnsafeMutablePointer<AVCodecContext> { codecContext.pointer! }
    private var packet: UnsafeMutablePointer<AVPacket> { packetOwner.pointer! }
    let streamIndex: Int32
    let info: VideoInfo
    let timeBase: AVRational
    let startTimestamp: Int64
    /// Whether the container knew the duration (seeking needs it).
    let hasDuration: Bool
    private var draining = false
    private let limits: DecodeLimits
    /// A transport or program stream's keyframes by byte position, and its continuous clock, applied to every
    /// packet read (`PacketIndex`); nil for other containers, or when the scan could not read to the end.
    let index: PacketIndex?
    /// The clock's offset for the packets being read: that of the last packet read with a position, or of the
    /// place the last seek went to.
    private var sectionOffset: Int64 = 0
    /// Whether the decoder honours `AVDISCARD_NONREF` as "drop what no other frame refers to", after seeks that
    /// land on keyframes.
    private let canDropFrames: Bool
    /// Whether seeks land on keyframes and the index lists keyframes only (MP4, Matroska, and FLV through FFmpeg's
    /// generic seek); other demuxers' index entries are wherever a seek once landed.
    private let seeksToKeyframes: Bool
    /// AVI (and ASF as FFmpeg writes it) store no presentation times, only the frames in decode order, and
    /// FFmpeg 5.1 gives H.264 frames there no usable time once B-frames reorder them; nor does an MXF file whose
    /// packets' times state no reordering (`readMXFPackets`). Each packet goes to the
    /// decoder with its decode time as its presentation time, so a frame comes out carrying its own. The first frame
    /// after a start or seek, an IDR picture (no frame decoded after it is shown before it), is shown at that time;
    /// each frame after it one period later (in AVI never earlier than its own index less the reorder delay).
    /// An open GOP's keyframe is shown after its leading pictures (decoded after it): they come out, marked
    /// corrupt after a seek and never sampled, so that ClipRun can count them.
    let timesByOrder: Bool
    /// Whether the packets were read once to index them (`indexEndsEarly`); a second reader would repeat that.
    let indexedByReading: Bool
    /// Decoded forward from the start only, as nothing would say which frame a seek lands on: an MXF file that lost
    /// its index (cut short, or cut before its footer) and MPEG-2 timed by order, which FFmpeg shows from a seek
    /// onto a P picture on grey references, unmarked.
    private(set) var decodesForwardOnly = false
    /// Set to let the decoder drop non-reference frames no query needs: whether no query asks for a frame in
    /// [first, second) seconds. nil decodes every frame.
    var unneeded: ((Double, Double) -> Bool)? {
        didSet { if !canDropFrames { unneeded = nil } }
    }
    private var ledger = FrameSkipLedger()
    /// Whether a frame has come out since the start or the last seek. Nothing is dropped before: a seek onto a
    /// recovery point (intra refresh) shows no frame until the refresh completes, so the frames a drop would rely
    /// on do not come out.
    private var hasOutputSinceSeek = false
    /// Set when no frame shown after this time (seconds) is wanted: at the first packet decoded after it, the
    /// decoder is drained instead of fed, so the frames it holds back for reordering come out without decoding
    /// those that follow. Only where decode timestamps are in order and precede presentation (MP4, Matroska, FLV).
    var drainAfter: Double? {
        didSet { if !seeksToKeyframes { drainAfter = nil } }
    }

    /// FFmpeg's own log is silenced once: every failure reaches the caller as a `DecodeError` instead.
    private static let quietLogs: Void = av_log_set_level(AV_LOG_QUIET)

    /// How `init` learnt what it uses of the stream.
    enum Probe: Equatable {
        /// From the header alone (`headerSuffices`).
        case header
        /// By `avformat_find_stream_info` reading packets without decoding them (`framesNeedNoProbe`).
        case packets
        /// From the header, the sequence header's reorder depth and the first packet's time
        /// (`matroskaH264HeaderSuffices`).
        case firstPacket
        /// By `avformat_find_stream_info` decoding the first frames as well (`findStreamInfoUnfiltered`).
        case decoding
    }
    let probe: Probe

    /// - Parameters:
    ///   - scanned: the index another demuxer's scan made of the same bytes, which this one then need not make again.
    ///   - probesLeast: whether to skip what probing would learn again or not use (`Probe`); false probes fully, the
    ///     plain way the shortcuts are checked against.
    init(_ bytes: Data, limits: DecodeLimits, deadline: Deadline, scanned: PacketIndex? = nil, probesLeast: Bool = true) throws {
        Self.quietLogs
        guard !bytes.isEmpty else { throw DecodeError.emptyInput }
        self.limits = limits
        var formatContext = try Self.open(bytes, deadline: deadline)
        var format = formatContext.pointer!
        var probe: Probe = !probesLeast ? .decoding : Self.headerSuffices(format) ? .header
            : Self.framesNeedNoProbe(format) ? .packets : .decoding
        if probesLeast, probe == .decoding, let (stream, depth) = Self.matroskaH264HeaderSuffices(format) {
            if let start = try Self.readFirstKeyframeTime(format, stream: stream, deadline: deadline) {
                // What probing would have learnt: the first packet's time as the start (as probing reads it, that
                // packet now indexes the first keyframe, so the first seek goes back to it), and the SPS's reorder
                // depth as the decoder's starting delay.
                format.pointee.streams[Int(stream)]!.pointee.start_time = start
                format.pointee.streams[Int(stream)]!.pointee.codecpar.pointee.video_delay = Int32(clamping: depth)
                probe = .firstPacket
            } else {
                // That packet, read now, was not a keyframe with a time: probing starts afresh.
                formatContext = try Self.open(bytes, deadline: deadline)
                format = formatContext.pointer!
            }
        }
        self.probe = probe
        if probe == .packets || probe == .decoding {
            // Probing decodes the first frames to learn the pixel format, and for H.264 to guess the reorder delay.
            // A placeholder format spares that decode where nothing else is learnt from it (`framesNeedNoProbe`),
            // and is cleared after, so the decoder proper starts as it would with no format known.
            let placeholders = probe == .packets ? Self.videoStreams(format).map { $0.pointee.codecpar! }.filter { $0.pointee.format < 0 } : []
            for parameters in placeholders { parameters.pointee.format = AV_PIX_FMT_YUV420P.rawValue }
            let found = probesLeast && probe == .decoding ? Self.findStreamInfoUnfiltered(format) : avformat_find_stream_info(format, nil)
            for parameters in placeholders { parameters.pointee.format = AV_PIX_FMT_NONE.rawValue }
            if deadline.hasPassed { throw DecodeError.deadlineExceeded(seconds: deadline.seconds) }
            if found < 0 { throw DecodeError.nothingDecodable(detail: ffmpegErrorString(found)) }
        }

        let best = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        guard best >= 0, let stream = format.pointee.streams[Int(best)],
              stream.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0 else {
            throw DecodeError.noVideoStream(detail: "no video stream in \(String(cString: format.pointee.iformat.pointee.name))")
        }
        streamIndex = best
        for i in 0..<Int(format.pointee.nb_streams) where i != Int(best) {
            format.pointee.streams[i]!.pointee.discard = AVDISCARD_ALL
        }
        let parameters = stream.pointee.codecpar!
        let width = Int(parameters.pointee.width), height = Int(parameters.pointee.height)
        if width > limits.maxDimension || height > limits.maxDimension
            || av_image_check_size2(UInt32(max(width, 0)), UInt32(max(height, 0)), Int64(limits.maxDimension) * Int64(limits.maxDimension),
                                    AV_PIX_FMT_NONE, 0, nil) < 0 && width > 0 {
            throw DecodeError.dimensionsTooLarge(width: width, height: height, limit: limits.maxDimension)
        }
        guard let decoder = avcodec_find_decoder(parameters.pointee.codec_id) else {
            throw DecodeError.noVideoStream(detail: "no decoder for codec \(String(cString: avcodec_get_name(parameters.pointee.codec_id)))")
        }
        let decoderName = String(cString: decoder.pointee.name)
        guard Self.decoders.split(separator: ",").contains(Substring(decoderName)) else {
            throw DecodeError.noVideoStream(detail: "video codec \(decoderName) is not accepted")
        }
        guard let codec = avcodec_alloc_context3(decoder) else { throw DecodeError.needsTooMuchMemory }
        let codecContext = CodecContext(codec)
        try check(avcodec_parameters_to_context(codec, parameters)) { .nothingDecodable(detail: $0) }
        codec.pointee.thread_count = Int32(limits.decoderThreads == 0 ? Self.automaticThreads(width: width, height: height)
                                                                      : limits.decoderThreads)
        codec.pointee.pkt_timebase = stream.pointee.time_base
        codec.pointee.codec_whitelist = av_strdup(Self.decoders)
        let containerName = String(cString: format.pointee.iformat.pointee.name)
        seeksToKeyframes = ["mov,", "matroska", "flv"].contains { containerName.hasPrefix($0) }
        packetOwner = try Packet()
        // An MXF file's packets, read once: what they hold, and whether their times say how B-frames reorder. Not
        // for a file that claims more than the longest duration accepted, which is refused below.
        let stated = Self.statedDuration(format, stream)
        let mxf = containerName == "mxf" && (stated ?? 0) <= limits.maxDurationSeconds
            ? try Self.readMXFPackets(format, stream: best, packet: packetOwner.pointer!, deadline: deadline) : nil
        // Not HEVC: after a seek to a CRA picture its leading pictures are dropped, so it is not shown at its own time.
        // MPEG-2 only in MXF, where an index gives the times unless a cut lost it.
        let codecID = parameters.pointee.codec_id
        if let mxf {
            timesByOrder = [AV_CODEC_ID_H264, AV_CODEC_ID_MPEG2VIDEO].contains(codecID)
                && parameters.pointee.video_delay > 0 && !mxf.reorderingTimed
        } else {
            timesByOrder = codecID == AV_CODEC_ID_H264 && ["avi", "asf"].contains(containerName)
        }
        // Timed by order, an open GOP's keyframe is placed after its leading pictures, which must then come out too
        // (H.264 marks them corrupt; MPEG-2 drops them whatever the flag, and is not seeked).
        if timesByOrder, codecID == AV_CODEC_ID_H264 { codec.pointee.flags2 |= Int32(AV_CODEC_FLAG2_SHOW_ALL) }
        try check(avcodec_open2(codec, decoder, nil)) { .nothingDecodable(detail: $0) }
        self.formatContext = formatContext
        self.codecContext = codecContext

        timeBase = stream.pointee.time_base
        startTimestamp = stream.pointee.start_time == noTimestamp ? 0 : stream.pointee.start_time
        // These have no index to seek by, and may be joined recordings whose clocks restart at each join. (So may
        // chained Ogg, but FFmpeg 5.1 times a chained Theora stream's frames wrongly after the first link.)
        index = !["mpegts", "mpeg"].contains(containerName) ? nil
            : try scanned ?? Self.scan(format, stream: best, timeBase: timeBase, packet: packetOwner.pointer!, deadline: deadline)
        // Elsewhere a seek may land between keyframes, where the frames a drop relies on do not decode; the scan's
        // index seeks onto a keyframe's own packet.
        canDropFrames = (seeksToKeyframes || index != nil) && [AV_CODEC_ID_H264, AV_CODEC_ID_HEVC].contains(parameters.pointee.codec_id)
        indexedByReading = containerName == "avi" && Self.indexEndsEarly(stream)
        if indexedByReading {
            // An AVI cut short (an interrupted recording) lost its index, which comes last: FFmpeg then cannot seek
            // past what it has read, and every clip decodes from the start. A pass over the packets indexes them
            // all, as keyframes though, since nothing else marks them: ClipRun steps back from a seek that lands
            // between keyframes. Not for a file that says it is too long, and not past `maxIndexedPackets`.
            if let stated = Self.statedDuration(format, stream), stated > limits.maxDurationSeconds {
                throw DecodeError.tooLong(seconds: stated, limit: limits.maxDurationSeconds)
            }
            var packets = 0
            _ = try Self.readPackets(format, stream: best, packet: packetOwner.pointer!, deadline: deadline) { _ in
                packets += 1
                return packets < Self.maxIndexedPackets
            }
            guard avformat_seek_file(format, best, Int64.min, 0, Int64.max, 0) >= 0 else {
                throw DecodeError.nothingDecodable(detail: "cannot return to the start of the stream")
            }
        }
        if containerName.hasPrefix("matroska"), Self.indexStartsAtFirstFrame(stream) {
            // Matroska reads its cues, the index of keyframes, only at the first seek; until then the index holds
            // only the keyframes read so far, and neither the seeks nor the parallel stretches can plan by it. A
            // seek to the first frame, a keyframe, reads them now and skips nothing.
            _ = avformat_seek_file(format, best, Int64.min, startTimestamp, startTimestamp, 0)
        }
        let rate = av_guess_frame_rate(format, stream, nil)
        let fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0
        var duration: Double?
        if let index, index.isRepaired {
            duration = (Double(index.end) - Double(startTimestamp)) * av_q2d(timeBase)
        } else {
            duration = Self.statedDuration(format, stream)
        }
        // An MXF file cut short (an interrupted recording) still states its whole duration, and FFmpeg seeks past its
        // last frame without an error: the clips go where its frames are. One that lost its index (whose packets then
        // lack times) is seeked by a guess from its bit rate, and the frame found is labelled with the time asked for.
        var cutShort = false
        if let held = mxf?.seconds, let stated = duration, held < stated - 1 {
            duration = held
            cutShort = true
        }
        decodesForwardOnly = cutShort || mxf?.untimed == true || timesByOrder && codecID == AV_CODEC_ID_MPEG2VIDEO
        hasDuration = duration != nil
        if let duration, duration > limits.maxDurationSeconds {
            throw DecodeError.tooLong(seconds: duration, limit: limits.maxDurationSeconds)
        }
        info = VideoInfo(container: containerName, codec: decoderName,
                         width: width, height: height, fps: fps, durationSeconds: duration ?? 0,
                         rotation: Self.rotation(of: stream))
    }

    /// Reads stream `index`'s packets in file order without decoding, handing each to `body` until it returns
    /// false. The demuxer is left where reading stopped.
    /// - Returns: whether the file was read to its end.
    /// - Throws: `DecodeError.deadlineExceeded`.
    private static func readPackets(_ format: UnsafeMutablePointer<AVFormatContext>, stream index: Int32,
                                    packet: UnsafeMutablePointer<AVPacket>, deadline: Deadline,
                                    _ body: (AVPacket) -> Bool) throws -> Bool {
        var read: Int32 = 0
        reading: while true {
            read = av_read_frame(format, packet)
            guard read >= 0 else { break }
            defer { av_packet_unref(packet) }
            if packet.pointee.stream_index == index, !body(packet.pointee) { break reading }
        }
        if deadline.hasPassed { throw DecodeError.deadlineExceeded(seconds: deadline.seconds) }
        return read == averrorEOF
    }

    /// What an MXF stream's packets say, read once at open (at most `maxIndexedPackets`; the demuxer is back at the
    /// start after):
    /// - seconds: what they hold, each its own duration (one edit unit) or at least one tick; nil unless they were read
    ///   to the end and hold a positive time;
    /// - untimed: whether any lacks a time, as when a cut lost the index;
    /// - reorderingTimed: whether any has a presentation time other than its decode time. An index states B-frames'
    ///   reordering (temporal offsets), but FFmpeg's own muxer writes none for H.264, and without its index FFmpeg
    ///   times MPEG-2's I and P pictures a period late: their frames would come out timed out of order.
    private static func readMXFPackets(_ format: UnsafeMutablePointer<AVFormatContext>, stream index: Int32,
                                       packet: UnsafeMutablePointer<AVPacket>, deadline: Deadline)
        throws -> (seconds: Double?, untimed: Bool, reorderingTimed: Bool)
    {
        // In Double: the durations come from the file, and an Int64 sum could wrap.
        var ticks = 0.0, packets = 0, untimed = false, reorderingTimed = false
        let complete = try readPackets(format, stream: index, packet: packet, deadline: deadline) { p in
            ticks += Double(max(p.duration, 1))
            untimed = untimed || p.pts == noTimestamp
            reorderingTimed = reorderingTimed || p.pts != noTimestamp && p.dts != noTimestamp && p.pts != p.dts
            packets += 1
            return packets < maxIndexedPackets
        }
        let stream = format.pointee.streams[Int(index)]!
        let start = stream.pointee.start_time == noTimestamp ? 0 : stream.pointee.start_time
        guard avformat_seek_file(format, index, Int64.min, start, start, 0) >= 0 else {
            throw DecodeError.nothingDecodable(detail: "cannot return to the start of the stream")
        }
        let seconds = ticks * av_q2d(stream.pointee.time_base)
        return (complete && seconds > 0 && seconds.isFinite ? seconds : nil, untimed, reorderingTimed)
    }

    /// The index of stream `index`'s packets; nil when they cannot be indexed or the file could not be read to its
    /// end. The demuxer is back at the file's start after.
    /// - Throws: `DecodeError.deadlineExceeded`.
    private static func scan(_ format: UnsafeMutablePointer<AVFormatContext>, stream index: Int32, timeBase: AVRational,
                             packet: UnsafeMutablePointer<AVPacket>, deadline: Deadline) throws -> PacketIndex? {
        guard var builder = PacketIndex.Builder(timeBaseSeconds: av_q2d(timeBase)) else { return nil }
        let complete = try readPackets(format, stream: index, packet: packet, deadline: deadline) { p in
            builder.add(PacketIndex.Packet(position: p.pos >= 0 ? p.pos : nil, dts: p.dts == noTimestamp ? nil : p.dts,
                                           pts: p.pts == noTimestamp ? nil : p.pts, isKey: p.flags & AV_PKT_FLAG_KEY != 0,
                                           duration: p.duration))
        }
        guard av_seek_frame(format, -1, 0, AVSEEK_FLAG_BYTE) >= 0 else {
            throw DecodeError.nothingDecodable(detail: "cannot return to the start of the stream")
        }
        return complete ? builder.finish() : nil
    }

    /// For a container that states no duration (a browser's MediaRecorder WebM, a live Matroska): the last frame's
    /// presentation time plus one frame period, from the packets read without decoding, as torchvision reads a
    /// video's timestamps. Decoding every frame instead spent the frame limit on a 3-minute recording before any
    /// clip. Leaves the demuxer where reading stopped.
    /// - Returns: nil when a packet carries no presentation time (the caller decodes to learn the frames' times).
    /// - Throws: `DecodeError.tooLong` or `.deadlineExceeded`.
    func durationFromPackets(deadline: Deadline) throws -> Double? {
        var last: Int64?, untimed = false, tooLong: Double?
        _ = try Self.readPackets(format, stream: streamIndex, packet: packet, deadline: deadline) { p in
            guard p.pts != noTimestamp else { untimed = true; return false }
            if seconds(p.pts) > limits.maxDurationSeconds { tooLong = seconds(p.pts); return false }
            last = max(last ?? p.pts, p.pts)
            return true
        }
        if let tooLong { throw DecodeError.tooLong(seconds: tooLong, limit: limits.maxDurationSeconds) }
        guard !untimed, let last else { return nil }
        return seconds(last) + (info.fps > 0 ? 1 / info.fps : 0)
    }

    /// Whether the container's index stops more than a second before the stream's stated end, or is empty.
    /// In Double: the values come from the file.
    private static func indexEndsEarly(_ stream: UnsafeMutablePointer<AVStream>) -> Bool {
        let count = avformat_index_get_entries_count(stream)
        guard count > 0, let last = avformat_index_get_entry(stream, count - 1) else { return true }
        guard stream.pointee.duration != noTimestamp, stream.pointee.duration > 0 else { return false }
        let start = stream.pointee.start_time == noTimestamp ? 0 : Double(stream.pointee.start_time)
        let unit = av_q2d(stream.pointee.time_base)
        return (Double(last.pointee.timestamp) - start - Double(stream.pointee.duration)) * unit < -1
    }

    /// Whether the index's first entry, a keyframe, is the stream's first frame.
    private static func indexStartsAtFirstFrame(_ stream: UnsafeMutablePointer<AVStream>) -> Bool {
        guard avformat_index_get_entries_count(stream) > 0, let first = avformat_index_get_entry(stream, 0) else { return false }
        return stream.pointee.start_time != noTimestamp && first.pointee.timestamp == stream.pointee.start_time
    }

    /// A million packets of an AVI read to index it (over nine hours at 30 fps, 24 MB of FFmpeg's index), or of an MXF
    /// file read for what it holds.
    static let maxIndexedPackets = 1_000_000

    /// The stream's duration as its container states it, in seconds; nil when it states none.
    private static func statedDuration(_ format: UnsafeMutablePointer<AVFormatContext>, _ stream: UnsafeMutablePointer<AVStream>) -> Double? {
        if stream.pointee.duration != noTimestamp && stream.pointee.duration > 0 {
            return Double(stream.pointee.duration) * av_q2d(stream.pointee.time_base)
        }
        if format.pointee.duration != noTimestamp && format.pointee.duration > 0 {
            return Double(format.pointee.duration) / Double(cffmpeg_time_base())
        }
        return nil
    }

    /// Frame threads for `DecodeLimits.decoderThreads` 0: one per core (FFmpeg's own choice is one more; the frame
    /// writer's thread takes that share), but one below 960x540, where handing frames between threads cost more
    /// than it gained (640x360: 21 ms a clip on one thread, 24-29 ms on three).
    static func automaticThreads(width: Int, height: Int) -> Int {
        width * height < 960 * 540 ? 1 : min(Cores.available, 16)
    }

    /// Whether the header alone says all that is used of the video stream, so `avformat_find_stream_info` need
    /// not decode its first frames (single-threaded, before the decoder proper decodes them again).
    ///
    /// MP4's header reads the sample table, so its start time, duration and frame rate are the ones probing would
    /// give. Probing also fills in the pixel format, which the decoder learns from the first frame, and the
    /// reorder delay, which H.264 and HEVC decoders take from the sequence header when it states one (HEVC's
    /// always does; for H.264 without it the decoder starts from the delay MP4 derives from the timestamps).
    private static func headerSuffices(_ format: UnsafeMutablePointer<AVFormatContext>) -> Bool {
        guard String(cString: format.pointee.iformat.pointee.name).hasPrefix("mov,") else { return false }
        let best = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        guard best >= 0, let stream = format.pointee.streams[Int(best)], let parameters = stream.pointee.codecpar else { return false }
        return [AV_CODEC_ID_H264, AV_CODEC_ID_HEVC].contains(parameters.pointee.codec_id)
            && parameters.pointee.extradata_size > 0 && parameters.pointee.width > 0 && parameters.pointee.height > 0
            && stream.pointee.start_time != noTimestamp && stream.pointee.duration > 0 && stream.pointee.avg_frame_rate.num > 0
            && stream.pointee.avg_frame_rate.den > 0
    }

    /// Whether every video stream is VP8, VP9 or AV1 with its size in the header: probing would decode their first
    /// frames only for the pixel format. Their frames come out in decoding order, so there is no reorder delay to
    /// learn, and their decoders set the format from each frame's own header. (H.264 in Matroska has a way of its own,
    /// `matroskaH264HeaderSuffices`; HEVC, and H.264 elsewhere, stay probed.)
    private static func framesNeedNoProbe(_ format: UnsafeMutablePointer<AVFormatContext>) -> Bool {
        let video = videoStreams(format).map { $0.pointee.codecpar! }
        return !video.isEmpty && video.allSatisfy {
            [AV_CODEC_ID_VP8, AV_CODEC_ID_VP9, AV_CODEC_ID_AV1].contains($0.pointee.codec_id)
                && $0.pointee.width > 0 && $0.pointee.height > 0
        }
    }

    /// An H.264 stream in Matroska whose header holds all that probing would learn by decoding its first frames
    /// (which took 16-21 ms of a 1080p clip's 150): the duration, a frame rate both ways FFmpeg reads it agree on
    /// (`av_guess_frame_rate` then needs no decoder), and an SPS that states its reorder depth, from which the decoder
    /// takes its delay at the first slice, and the size the header states. The start time is the first packet's
    /// (`readFirstKeyframeTime`). Without probing, packets carry no decode times: `drainAfter` does not fire (a frame
    /// or two more a pass), and a frame's best-effort time is its presentation time even where a broken stream's
    /// times run backwards, where probing's decode times would have stood in.
    /// - Returns: the stream and its reorder depth; nil when probing is needed.
    private static func matroskaH264HeaderSuffices(_ format: UnsafeMutablePointer<AVFormatContext>) -> (Int32, Int)? {
        guard String(cString: format.pointee.iformat.pointee.name).hasPrefix("matroska"), format.pointee.duration > 0 else { return nil }
        let video = videoStreams(format)
        guard video.count == 1, let stream = video.first, let parameters = stream.pointee.codecpar,
              parameters.pointee.codec_id == AV_CODEC_ID_H264, parameters.pointee.width > 0, parameters.pointee.height > 0,
              let extradata = parameters.pointee.extradata, parameters.pointee.extradata_size > 0,
              stream.pointee.avg_frame_rate.num > 0, stream.pointee.avg_frame_rate.den > 0,
              av_cmp_q(stream.pointee.avg_frame_rate, stream.pointee.r_frame_rate) == 0,
              let stated = H264ReorderDepth.stated(avcC: Array(UnsafeBufferPointer(start: extradata, count: Int(parameters.pointee.extradata_size)))),
              stated.width == Int(parameters.pointee.width), stated.height == Int(parameters.pointee.height)
        else { return nil }
        return (stream.pointee.index, stated.depth)
    }

    /// `avformat_find_stream_info` with the probing decoders' loop filters off. They decode the first frames only to
    /// learn the pixel format and the reorder delay, which the filter does not change, and their pixels are thrown
    /// away: a 1080p H.264 probe took 25-28 ms instead of 34-37 without B-frames (seven frames decoded), 15-19 instead
    /// of 16-22 with them. Only for the streams there are now: FLV and MPEG-PS add theirs while probing.
    private static func findStreamInfoUnfiltered(_ format: UnsafeMutablePointer<AVFormatContext>) -> Int32 {
        var options = [OpaquePointer?](repeating: nil, count: Int(format.pointee.nb_streams))
        for i in options.indices { av_dict_set(&options[i], "skip_loop_filter", "all", 0) }
        defer { for i in options.indices { av_dict_free(&options[i]) } }
        return options.withUnsafeMutableBufferPointer { avformat_find_stream_info(format, $0.baseAddress) }
    }

    /// Reads stream `index`'s first packet.
    /// - Returns: its presentation time; nil unless it is a keyframe with a time.
    private static func readFirstKeyframeTime(_ format: UnsafeMutablePointer<AVFormatContext>, stream index: Int32,
                                              deadline: Deadline) throws -> Int64? {
        let packet = try Packet()
        var first: (isKey: Bool, pts: Int64)?
        _ = try readPackets(format, stream: index, packet: packet.pointer!, deadline: deadline) { p in
            first = (p.flags & AV_PKT_FLAG_KEY != 0, p.pts)
            return false
        }
        guard let first, first.isKey, first.pts != noTimestamp else { return nil }
        return first.pts
    }

    /// A demuxer over `bytes` that reads nothing else: whitelisted containers and decoders, no nested opens, and the
    /// deadline checked as it reads. Streams that are not video are discarded: never probed, decoded or even read.
    private static func open(_ bytes: Data, deadline: Deadline) throws -> FormatContext {
        let input = try MemoryInput(bytes, deadline: deadline)
        guard let format = avformat_alloc_context() else { throw DecodeError.needsTooMuchMemory }
        format.pointee.pb = input.context
        format.pointee.format_whitelist = av_strdup(containers)
        format.pointee.codec_whitelist = av_strdup(decoders)
        format.pointee.protocol_whitelist = av_strdup("none")
        format.pointee.io_open = { _, _, _, _, _ in cffmpeg_averror(EPERM) }
        format.pointee.interrupt_callback.callback = { opaque in MemoryInput.from(opaque).deadline.hasPassed ? 1 : 0 }
        format.pointee.interrupt_callback.opaque = Unmanaged.passUnretained(input).toOpaque()
        var formatPointer: UnsafeMutablePointer<AVFormatContext>? = format
        let opened = avformat_open_input(&formatPointer, nil, nil, nil)
        if opened < 0 {  // avformat_open_input has freed the context
            if deadline.hasPassed { throw DecodeError.deadlineExceeded(seconds: deadline.seconds) }
            throw OpenFailure.error(bytes, code: opened, deadline: deadline)
        }
        let context = FormatContext(formatPointer!, input: input)
        for i in 0..<Int(formatPointer!.pointee.nb_streams) {
            let stream = formatPointer!.pointee.streams[i]!
            if stream.pointee.codecpar.pointee.codec_type != AVMEDIA_TYPE_VIDEO { stream.pointee.discard = AVDISCARD_ALL }
        }
        return context
    }

    /// The streams not discarded: the video streams.
    private static func videoStreams(_ format: UnsafeMutablePointer<AVFormatContext>) -> [UnsafeMutablePointer<AVStream>] {
        (0..<Int(format.pointee.nb_streams)).map { format.pointee.streams[$0]! }.filter { $0.pointee.discard != AVDISCARD_ALL }
    }

    /// Clockwise display rotation from the display matrix, normalised to 0, 90, 180 or 270.
    private static func rotation(of stream: UnsafeMutablePointer<AVStream>) -> Int {
        var size: Int = 0
        guard let matrix = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size), size >= 36 else { return 0 }
        let degrees = -av_display_rotation_get(UnsafeRawPointer(matrix).assumingMemoryBound(to: Int32.self))
        guard degrees.isFinite else { return 0 }
        let quarter = Int((degrees / 90).rounded()) % 4
        return (quarter + 4) % 4 * 90
    }

    /// Seconds since the stream's first timestamp (in Double: a hostile timestamp minus the first must not trap).
    func seconds(_ timestamp: Int64) -> Double {
        (Double(timestamp) - Double(startTimestamp)) * av_q2d(timeBase)
    }

    /// Moves to the last keyframe at or before `seconds` and empties the decoder.
    /// - Returns: false when the container cannot seek there.
    func seek(to seconds: Double) -> Bool {
        if decodesForwardOnly, seconds > 0 { return false }
        let target = startTimestamp + Int64((seconds / av_q2d(timeBase)).rounded(.down))
        // By the scan's index: onto the keyframe itself, and on a repaired clock, where a time may stand for several
        // places in the file, into the right recording.
        let result: Int32
        if let index {
            let position = index.keyframePosition(atOrBefore: target)
            sectionOffset = index.offset(at: position)
            result = av_seek_frame(format, -1, position, AVSEEK_FLAG_BYTE)
        } else {
            result = avformat_seek_file(format, streamIndex, Int64.min, target, target, 0)
        }
        // A seek that failed leaves the decoder as it was, to go on from where it is.
        guard result >= 0 else { return false }
        avcodec_flush_buffers(codec)
        draining = false
        ledger.reset()
        hasOutputSinceSeek = false
        return true
    }

    /// Frames the decoder holds back for reordering (H.264's `has_b_frames`), as it knows them so far.
    var reorderDelay: Int { Int(codec.pointee.has_b_frames) }

    /// The time of the last keyframe shown at or before `seconds` by the container's index; nil without an index
    /// that covers that time. Only decides whether a seek saves work: a wrong answer costs time, never a frame.
    func indexedKeyframe(atOrBefore seconds: Double) -> Double? {
        if let index {
            return index.keyframe(atOrBefore: startTimestamp + Int64((seconds / av_q2d(timeBase)).rounded(.down))).map { self.seconds($0.time) }
        }
        // MP4 reads its whole sample table when it opens; Matroska its cues at the first seek, and until then
        // knows only the keyframes read so far.
        let complete = info.container.hasPrefix("mov,")
        guard seeksToKeyframes, let stream = format.pointee.streams[Int(streamIndex)] else { return nil }
        let count = avformat_index_get_entries_count(stream)
        guard count > 0, let first = avformat_index_get_entry(stream, 0), let last = avformat_index_get_entry(stream, count - 1) else {
            return nil
        }
        // MP4's index holds decode timestamps. Keyframes show the reorder delay later, which the first keyframe,
        // shown at the stream's start, reveals.
        let delay = max(0, startTimestamp - first.pointee.timestamp)
        let target = startTimestamp + Int64((seconds / av_q2d(timeBase)).rounded(.down)) - delay
        guard complete || last.pointee.timestamp >= target,
              let entry = avformat_index_get_entry_from_timestamp(stream, target, AVSEEK_FLAG_BACKWARD) else { return nil }
        return self.seconds(entry.pointee.timestamp + delay)
    }

    /// Decodes the next frame into `frame` (which it unreferences first).
    /// - Returns: false at the end of the stream.
    /// - Throws: `DecodeError.deadlineExceeded`; `DroppedFrameMismatch` when a frame dropped for `unneeded` may have
    ///   been needed after all. Decoding errors in single packets are skipped, not thrown.
    func decodeNext(into frame: UnsafeMutablePointer<AVFrame>, deadline: Deadline) throws -> Bool {
        av_frame_unref(frame)
        while true {
            if deadline.hasPassed { throw DecodeError.deadlineExceeded(seconds: deadline.seconds) }
            let received = avcodec_receive_frame(codec, frame)
            try checkMemory(received)
            if received >= 0 {
                // The caller times frames by their best-effort timestamp, the ledger by their packets'.
                let timestamp = frame.pointee.pts
                guard !ledger.isActive
                    || timestamp != noTimestamp && frame.pointee.best_effort_timestamp == timestamp && ledger.output(timestamp)
                else { throw DroppedFrameMismatch() }
                hasOutputSinceSeek = true
                return true
            }
            if received == averrorEOF || draining {
                guard !ledger.isActive || ledger.isBorneOutAtEnd else { throw DroppedFrameMismatch() }
                return false
            }
            // The decoder wants input: the next packet of our stream, or a flush at the end of the file.
            let read = av_read_frame(format, packet)
            try checkMemory(read)
            if read < 0 {
                if deadline.hasPassed { throw DecodeError.deadlineExceeded(seconds: deadline.seconds) }
                draining = true
                _ = avcodec_send_packet(codec, nil)
                continue
            }
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == streamIndex else { continue }
            if let index {
                if packet.pointee.pos >= 0 { sectionOffset = index.offset(at: packet.pointee.pos) }
                // The scan checked these sums for the same packets; wrapping keeps any other from trapping.
                if packet.pointee.pts != noTimestamp { packet.pointee.pts &+= sectionOffset }
                if packet.pointee.dts != noTimestamp { packet.pointee.dts &+= sectionOffset }
            }
            // Every packet from here on is shown after `drainAfter` (presentation never precedes decoding).
            if let drainAfter, packet.pointee.dts != noTimestamp, seconds(packet.pointee.dts) > drainAfter {
                draining = true
                _ = avcodec_send_packet(codec, nil)
                continue
            }
            if timesByOrder, packet.pointee.pts == noTimestamp { packet.pointee.pts = packet.pointee.dts }
            var drop = false
            if let unneeded, packet.pointee.pts != noTimestamp {
                drop = ledger.send(packet.pointee.pts) { hasOutputSinceSeek && unneeded(seconds($0), seconds($1)) }
            }
            // Frame threads copy this setting per packet.
            codec.pointee.skip_frame = drop ? AVDISCARD_NONREF : AVDISCARD_DEFAULT
            // A corrupt packet is skipped, as later ones may decode; a failed allocation is not.
            try checkMemory(avcodec_send_packet(codec, packet))
        }
    }
}

/// A frame dropped as unneeded may have been needed: the frames that came out do not bear the choice out.
struct DroppedFrameMismatch: Error {}
