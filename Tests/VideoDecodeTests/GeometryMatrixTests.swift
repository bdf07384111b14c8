import Foundation
import TestSupport
import Testing
import VideoDecode

/// Every frame size and pixel format the decoder must survive, made by ffmpeg from Fixtures/geometry/matrix.txt
/// (one list, shared with scripts/decode-matrix.sh). swscale's SIMD output once wrote past the RGB buffer at
/// 426x240, a write AddressSanitizer cannot see: scripts/test.sh runs this suite again under glibc's malloc checker.
@Suite struct GeometryMatrixTests {
    /// One line of matrix.txt.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var width: Int, height: Int
        var pixelFormat: String
        /// ffprobe's `color_range` (`tv`, `pc`), when the case names one.
        var colorRange: String?
        var arguments: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = {
        guard let text = try? String(decoding: fixture("geometry/matrix.txt"), as: UTF8.self) else { return [] }
        return text.split(separator: "\n").compactMap { line -> Case? in
            let fields = line.split(separator: " ").map(String.init)
            guard let name = fields.first, !name.hasPrefix("#"), fields.count > 2 else { return nil }
            let probe = fields[1].split(separator: ":").map(String.init)
            let size = probe[0].split(separator: "x").compactMap { Int($0) }
            precondition(size.count == 2 && probe.count >= 2, "matrix.txt: bad PROBE field in \(line)")
            return Case(name: name, width: size[0], height: size[1], pixelFormat: probe[1],
                        colorRange: probe.count > 2 ? probe[2] : nil, arguments: Array(fields.dropFirst(2)))
        }
    }()

    static let mean: [Float] = [0.43216, 0.394666, 0.37645], std: [Float] = [0.22803, 0.22145, 0.216989]
    static let plane = 112 * 112, frames = 16

    @Test func matrixCoversEveryCodecAndFormat() {
        let encoders = Set(Self.cases.compactMap { c in c.arguments.firstIndex(of: "-c:v").map { c.arguments[$0 + 1] } })
        #expect(encoders.isSuperset(of: ["libx264", "libx265", "libvpx-vp9", "libaom-av1", "mpeg4", "mjpeg", "png", "rawvideo",
                                          "prores_ks", "dnxhd", "ffv1", "huffyuv", "utvideo", "qtrle", "libvpx", "dvvideo"]),
                "\(encoders)")
        let formats = Set(Self.cases.map(\.pixelFormat))
        #expect(formats.isSuperset(of: ["yuv420p", "yuv422p", "yuv444p", "yuv420p10le", "yuv422p10le", "yuv444p10le", "yuvj420p",
                                        "gray", "gray10le", "rgb24", "rgba", "bgr24", "yuv410p", "yuv411p", "yuv420p12le",
                                        "gbrp10le", "gbrp12le", "pal8"]), "\(formats)")
        #expect(Self.cases.contains { $0.colorRange == "pc" && !$0.pixelFormat.hasPrefix("yuvj") })
        #expect(Set(Self.cases.map(\.name)).count == Self.cases.count, "two cases write the same file")
    }

    @Test(arguments: cases)
    func decodesEverySizeAndFormat(_ test: Case) throws {
        let bytes = try TestVideos.make(test.name, test.arguments)
        // The encoder made what the case says, so the case cannot quietly test something else.
        let probe = try TestVideos.probe(test.name)
        #expect(probe["width"] == "\(test.width)" && probe["height"] == "\(test.height)", "\(probe)")
        #expect(probe["pix_fmt"] == test.pixelFormat, "\(probe)")
        if let range = test.colorRange { #expect(probe["color_range"] == range, "\(probe)") }

        let decoded = try ClipDecoder.decode(bytes, clips: 2)
        #expect(decoded.shape == [2, 3, 16, 112, 112])
        #expect(decoded.info.width == test.width && decoded.info.height == test.height)
        let values = decoded.values
        try #require(values.count == 2 * 3 * Self.frames * Self.plane)
        for clip in 0..<2 {
            for c in 0..<3 {
                // What the transform can produce from uint8: (0/255 - mean) / std ... (255/255 - mean) / std.
                let low = -Self.mean[c] / Self.std[c] - 1e-5, high = (1 - Self.mean[c]) / Self.std[c] + 1e-5
                let channel = values[(clip * 3 + c) * Self.frames * Self.plane ..< (clip * 3 + c + 1) * Self.frames * Self.plane]
                #expect(channel.allSatisfy { $0.isFinite && $0 >= low && $0 <= high }, "clip \(clip) channel \(c) out of range")
            }
            // Every distinct source frame sampled gives distinct pixels (the sources move every frame): the decoder
            // did not repeat a stale frame or hand back blank ones.
            let times = decoded.frameTimes[clip]
            let distinctTimes = zip(times, times.dropFirst()).filter { $0 != $1 }.count + 1
            var distinctFrames = 1
            for k in 1..<Self.frames where frame(values, clip: clip, k) != frame(values, clip: clip, k - 1) { distinctFrames += 1 }
            #expect(distinctTimes >= 8, "only \(distinctTimes) distinct frame times: \(times)")
            #expect(distinctFrames == distinctTimes, "\(distinctFrames) distinct frames for \(distinctTimes) distinct times")
            if test.width * test.height > 1 {
                let first = frame(values, clip: clip, 0)
                #expect(first.max()! - first.min()! > 0.5, "the first frame is flat")
            }
        }
    }

    /// FFmpeg picks its SIMD code (decoders, swscale) by the CPU it runs on, so the test above exercises only this
    /// machine's paths. Under the malloc checker, each case decodes again in a child process that lets FFmpeg use
    /// only what older x86-64 CPUs have, and must give the same tensors within a few levels.
    #if arch(x86_64)
    @Test(.enabled(if: ProcessInfo.processInfo.environment["MALLOC_CHECK_"] != nil, "only in the malloc checker run"),
          arguments: cases)
    func decodesTheSameWithTheCodeOfOlderCPUs(_ test: Case) throws {
        let bytes = try TestVideos.make(test.name, test.arguments)
        let expected = try ClipDecoder.decode(bytes, clips: 2).values
        let input = TestVideos.directory.appendingPathComponent(test.name).path
        for features in Self.olderX86 {
            let output = TestVideos.directory.appendingPathComponent("\(test.name).\(features.count).safetensors").path
            let child = try run(Executable.r2plus1d, ["preprocess", input, "-o", output, "--clips", "2", "--ffmpeg-cpu-flags", features])
            try #require(child.status == 0, "\(features): \(child.output)")
            let values = try Self.clips(inSafetensors: output)
            try #require(values.count == expected.count)
            let difference = zip(values, expected).map { abs($0 - $1) }.max() ?? 0
            // Six levels: SIMD and C code round a few conversions differently; a wrong path is off by far more.
            #expect(difference < 0.11, "\(features): largest difference \(difference)")
        }
    }

    /// What any x86-64 CPU has (QEMU's default model too), then Core 2's SSSE3, Nehalem's SSE4.2, Sandy Bridge's
    /// AVX, and Haswell's and Zen's AVX2.
    static let olderX86 = [
        "mmx+mmxext+sse+sse2",
        "mmx+mmxext+sse+sse2+sse3+ssse3",
        "mmx+mmxext+sse+sse2+sse3+ssse3+sse4.1+sse4.2",
        "mmx+mmxext+sse+sse2+sse3+ssse3+sse4.1+sse4.2+avx",
        "mmx+mmxext+sse+sse2+sse3+ssse3+sse4.1+sse4.2+avx+fma3+bmi1+bmi2+avx2",
    ]

    /// The restriction the test above relies on takes effect, and never grants what the CPU lacks.
    @Test func restrictingFFmpegsCPUFeaturesTakesEffect() throws {
        defer { FFmpegCPU.restoreDetection() }
        let sse2 = try FFmpegCPU.restrict(to: Self.olderX86[0])
        #expect(sse2 != 0 && sse2 & ~FFmpegCPU.detected == 0 && sse2 != FFmpegCPU.detected)
        // Features the CPU lacks (AVX-512 here or not, 3DNow! on any current CPU) are not granted.
        let asked = try FFmpegCPU.restrict(to: Self.olderX86.last! + "+avx512+3dnow")
        #expect(asked & ~FFmpegCPU.detected == 0, "\(String(asked, radix: 16)) beyond \(String(FFmpegCPU.detected, radix: 16))")
        #expect(throws: DecodeError.self) { try FFmpegCPU.restrict(to: "not-a-feature") }
    }
    #endif

    /// The F32 tensor `clips` of a safetensors file `preprocess` wrote.
    static func clips(inSafetensors path: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = Int(data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8 ..< 8 + headerLength)) as? [String: Any]
        let offsets = try #require((header?["clips"] as? [String: Any])?["data_offsets"] as? [Int])
        let body = data.subdata(in: 8 + headerLength + offsets[0] ..< 8 + headerLength + offsets[1])
        return body.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// scripts/test.sh runs this target again under glibc's malloc checker, which only sees overruns if it is really
    /// on in this process (it stays off, silently, when malloc ran before it was loaded): with it on, a block's
    /// usable size is exactly what was asked, with the guard byte after it.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["MALLOC_CHECK_"] != nil, "only in the malloc checker run"))
    func mallocCheckerIsActive() throws {
        let block = try #require(malloc(20))
        defer { free(block) }
        #expect(mallocUsableSize(block) == 20, "MALLOC_CHECK_ is set but glibc's checker is not active")
    }

    /// Frame k of a clip, all three planes.
    func frame(_ values: [Float], clip: Int, _ k: Int) -> [Float] {
        (0..<3).flatMap { c in
            let start = ((clip * 3 + c) * Self.frames + k) * Self.plane
            return values[start ..< start + Self.plane]
        }
    }
}

/// glibc's `malloc_usable_size` (malloc.h, which the Glibc module does not export).
@_silgen_name("malloc_usable_size")
private func mallocUsableSize(_ block: UnsafeMutableRawPointer?) -> Int
