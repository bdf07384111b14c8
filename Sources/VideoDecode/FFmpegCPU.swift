import CFFmpeg

/// The CPU features FFmpeg may use. It picks its SIMD code (decoders, swscale) by the CPU it runs on, so one machine
/// exercises only its own paths; limiting the features runs the paths older CPUs take, here.
public enum FFmpegCPU {
    /// Lets FFmpeg use exactly `features` (`av_parse_cpu_caps` names joined by '+', as ffmpeg's `-cpuflags`:
    /// "mmx+mmxext+sse+sse2" is any x86-64 CPU). Call it before the first decode: decoders and swscale contexts
    /// choose their code when they are made.
    /// - Throws: `DecodeError.internalFailure` for a name FFmpeg does not know.
    public static func restrict(to features: String) throws {
        var flags: UInt32 = 0
        guard av_parse_cpu_caps(&flags, features) >= 0 else {
            throw DecodeError.internalFailure(detail: "FFmpeg knows no CPU features '\(features)'")
        }
        av_force_cpu_flags(Int32(bitPattern: flags))
    }

}
