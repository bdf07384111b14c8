import Foundation
import TestSupport
import Testing
@testable import VideoDecode

/// The reorder depth read from an avcC record against `trace_headers`, FFmpeg's syntax reader, on the same SPS, over
/// the SPS features x264 writes: high profiles and their chroma formats, scaling matrices, interlacing, cropping,
/// an extended sample aspect ratio, colour description, timing and HRD parameters, lossless coding.
@Suite struct H264ReorderDepthTests {
    static func x264(_ name: String, size: String = "320x240", _ options: [String]) -> (String, [String]) {
        (name, TestVideos.lavfi("testsrc2=size=\(size):rate=25") + ["-t", "1", "-c:v", "libx264", "-preset", "veryfast"] + options)
    }

    static let sources: [(String, [String])] = [
        x264("sps-bframes2.mkv", ["-bf", "2", "-pix_fmt", "yuv420p"]),
        x264("sps-bframes3-pyramid.mkv", ["-bf", "3", "-x264-params", "b-pyramid=normal", "-pix_fmt", "yuv420p"]),
        x264("sps-nobframes.mkv", ["-bf", "0", "-pix_fmt", "yuv420p"]),
        x264("sps-baseline.mkv", ["-profile:v", "baseline", "-pix_fmt", "yuv420p"]),
        x264("sps-high10.mkv", ["-pix_fmt", "yuv420p10le"]),
        x264("sps-422.mkv", ["-pix_fmt", "yuv422p"]),
        x264("sps-444-cropped.mkv", size: "427x241", ["-pix_fmt", "yuv444p"]),  // 426x240: cropped from 27 x 15 macroblocks
        x264("sps-cqm-jvt.mkv", ["-x264-params", "cqm=jvt", "-pix_fmt", "yuv420p"]),
        x264("sps-cqm-jvt-444.mkv", ["-x264-params", "cqm=jvt", "-pix_fmt", "yuv444p"]),
        x264("sps-interlaced.mkv", ["-flags", "+ilme+ildct", "-pix_fmt", "yuv420p"]),
        x264("sps-sar-colour-hrd.mkv", ["-vf", "setsar=32/27", "-colorspace", "bt709", "-color_primaries", "bt709",
             "-color_trc", "bt709", "-x264-params", "nal-hrd=vbr:vbv-maxrate=400:vbv-bufsize=800", "-pix_fmt", "yuv420p"]),
        x264("sps-lossless.mkv", ["-qp", "0", "-pix_fmt", "yuv444p"]),
    ]

    /// The CodecPrivate element (ID 0x63A2) of a Matroska file: the avcC record.
    static func codecPrivate(_ mkv: Data) throws -> [UInt8] {
        let bytes = [UInt8](mkv)
        let id = try #require(mkv.range(of: Data([0x63, 0xA2]))).lowerBound
        let first = Int(bytes[id + 2])
        let width = first.leadingZeroBitCount - (Int.bitWidth - 8) + 1
        var size = first & (0xFF >> width)
        for k in 1..<width { size = size << 8 | Int(bytes[id + 2 + k]) }
        return Array(bytes[(id + 2 + width)..<(id + 2 + width + size)])
    }

    @Test(arguments: sources.map(\.0))
    func depthIsFFmpegsReadingOfTheSPS(_ name: String) throws {
        let arguments = try #require(Self.sources.first { $0.0 == name }).1
        let bytes = try TestVideos.make(name, arguments)
        let trace = try TestVideos.traceHeaders(name)
        func value(_ element: String) -> Int? {
            trace.split(separator: "\n").first { $0.contains(" \(element) ") }
                .flatMap { $0.split(separator: "=").last }.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        }
        #expect(value("seq_parameter_set_id") != nil, "no SPS in the trace")
        let expected = value("bitstream_restriction_flag") == 1 ? value("max_num_reorder_frames") : nil
        let stated = H264ReorderDepth.stated(avcC: try Self.codecPrivate(bytes))
        #expect(stated?.depth == expected)
        #expect(expected != nil, "x264 states the depth in every SPS it writes")
        let size = name == "sps-444-cropped.mkv" ? (426, 240) : (320, 240)  // testsrc2 rounds 427x241 down to even
        #expect(stated?.width == size.0 && stated?.height == size.1)
    }

    /// x264 always states the depth; an SPS that does not (as other encoders write it) sends a Matroska file back
    /// to probing by decoding, which guesses the delay from the frames.
    @Test func anSPSWithoutItsReorderDepthIsProbedByDecoding() throws {
        let (name, arguments) = Self.sources[0]
        var bytes = try TestVideos.make(name, arguments)
        #expect(try Demuxer(bytes, limits: .default, deadline: Deadline(seconds: 5)).probe == .firstPacket)
        // "[trace_headers @ 0x...] 164   bitstream_restriction_flag   1 = 1": the flag's bit in the NAL unit.
        let line = try #require(try TestVideos.traceHeaders(name).split(separator: "\n").first { $0.contains(" bitstream_restriction_flag ") })
        let bit = try #require(line.split(separator: "]").last?.split(separator: " ").first.flatMap { Int($0) })
        let record = try Self.codecPrivate(bytes)
        // The NAL unit starts at byte 8 of the record; the trace counts its bits without emulation prevention bytes.
        var nalByte = 8, zeros = 0, rbspByte = 0
        while rbspByte < bit / 8 || zeros >= 2 && record[nalByte] == 3 {
            if zeros >= 2, record[nalByte] == 3 { zeros = 0 } else { zeros = record[nalByte] == 0 ? zeros + 1 : 0; rbspByte += 1 }
            nalByte += 1
        }
        let at = try #require(bytes.range(of: Data(record))).lowerBound + nalByte
        #expect(bytes[at] & (0x80 >> UInt8(bit % 8)) != 0)
        bytes[at] &= ~(0x80 >> UInt8(bit % 8))
        #expect(H264ReorderDepth.stated(avcC: try Self.codecPrivate(bytes)) == nil)
        let demuxer = try Demuxer(bytes, limits: .default, deadline: Deadline(seconds: 5))
        #expect(demuxer.probe == .decoding && demuxer.startTimestamp == 0)
    }

    /// An SPS written bit by bit: baseline profile, 320x240 (20 x 15 macroblocks), a VUI with only its bitstream
    /// restriction, then `depth` and `buffering`.
    static func record(depth: UInt64, buffering: UInt64) -> [UInt8] {
        var bits: [Bool] = []
        func put(_ value: UInt64, _ count: Int) { for k in stride(from: count - 1, through: 0, by: -1) { bits.append(value >> UInt64(k) & 1 == 1) } }
        func ue(_ value: UInt64) {
            let code = value + 1, length = 64 - code.leadingZeroBitCount
            put(0, length - 1)
            put(code, length)
        }
        put(66, 8); put(0, 16); ue(0)  // profile_idc, constraints and level, seq_parameter_set_id
        ue(0); ue(2); ue(1); put(0, 1)  // log2_max_frame_num_minus4, pic_order_cnt_type 2, max_num_ref_frames, gaps
        ue(19); ue(14); put(1, 1); put(1, 1); put(0, 1)  // 20 x 15 macroblocks, frame_mbs_only, direct_8x8, no cropping
        put(1, 1); put(0, 8)  // vui_parameters_present_flag; no aspect, overscan, signal, chroma, timing, HRD, pic_struct
        put(1, 1); put(1, 1); ue(0); ue(0); ue(16); ue(16)  // bitstream_restriction_flag and its first five fields
        ue(depth); ue(buffering)
        put(1, 1)  // rbsp_stop_one_bit
        while bits.count % 8 != 0 { bits.append(false) }
        let nal = [0x67] + stride(from: 0, to: bits.count, by: 8).map { at in bits[at..<at + 8].reduce(UInt8(0)) { $0 << 1 | ($1 ? 1 : 0) } }
        return [1, 66, 0, 30, 0xFF, 0xE1, UInt8(nal.count >> 8), UInt8(nal.count & 0xFF)] + nal + [1, 0, 1, 0x68]
    }

    /// A depth past what FFmpeg accepts (a crafted file's, up to 2^32 - 2) is no depth at all: the file is probed.
    @Test func depthsPastSixteenOrTheBufferingStateNothing() {
        #expect(H264ReorderDepth.stated(avcC: Self.record(depth: 2, buffering: 4)) == .init(depth: 2, width: 320, height: 240))
        #expect(H264ReorderDepth.stated(avcC: Self.record(depth: 16, buffering: 16))?.depth == 16)
        #expect(H264ReorderDepth.stated(avcC: Self.record(depth: 17, buffering: 17)) == nil)
        #expect(H264ReorderDepth.stated(avcC: Self.record(depth: 4, buffering: 2)) == nil)
        #expect(H264ReorderDepth.stated(avcC: Self.record(depth: 1 << 32 - 2, buffering: 1 << 32 - 2)) == nil)
    }

    @Test func truncatedOrForeignRecordsStateNothing() throws {
        let bytes = try TestVideos.make(Self.sources[0].0, Self.sources[0].1)
        let record = try Self.codecPrivate(bytes)
        #expect(H264ReorderDepth.stated(avcC: record) == .init(depth: 2, width: 320, height: 240))
        for cut in [0, 5, 8, 9, record.count / 2] { #expect(H264ReorderDepth.stated(avcC: Array(record.prefix(cut))) == nil) }
        var twoSPS = record
        twoSPS[5] = 0xE2
        #expect(H264ReorderDepth.stated(avcC: twoSPS) == nil)
        #expect(H264ReorderDepth.stated(avcC: [0, 0, 0, 1, 0x67] + Array(record.dropFirst(9))) == nil)  // Annex B
    }
}
