import Foundation
import TestSupport
import Testing
@testable import VideoDecode

/// The reorder depth read from an avcC record against FFmpeg's own reading of the same SPS (`trace_headers`), over
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
        x264("sps-444-cropped.mkv", size: "427x241", ["-pix_fmt", "yuv444p"]),
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
        #expect(H264ReorderDepth.stated(avcC: try Self.codecPrivate(bytes)) == expected)
        #expect(expected != nil, "x264 states the depth in every SPS it writes")
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
        #expect(try Demuxer(bytes, limits: .default, deadline: Deadline(seconds: 5)).probe == .decoding)
    }

    @Test func truncatedOrForeignRecordsStateNothing() throws {
        let bytes = try TestVideos.make(Self.sources[0].0, Self.sources[0].1)
        let record = try Self.codecPrivate(bytes)
        #expect(H264ReorderDepth.stated(avcC: record) == 2)
        for cut in [0, 5, 8, 9, record.count / 2] { #expect(H264ReorderDepth.stated(avcC: Array(record.prefix(cut))) == nil) }
        var twoSPS = record
        twoSPS[5] = 0xE2
        #expect(H264ReorderDepth.stated(avcC: twoSPS) == nil)
        #expect(H264ReorderDepth.stated(avcC: [0, 0, 0, 1, 0x67] + Array(record.dropFirst(9))) == nil)  // Annex B
    }
}
