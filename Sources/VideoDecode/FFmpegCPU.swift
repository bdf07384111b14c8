import CFFmpeg

/// The CPU features FFmpeg may use. It picks its SIMD code (decoders, swscale) by the CPU it runs on, so one machine
/// exercises only its own paths; limiting the features runs the paths older CPUs take, here.
public enum FFmpegCPU {
    /// What this CPU has, read once before any restriction.
    public static let detected = UInt32(bitPattern: av_get_cpu_flags())

    /// Lets FFmpeg use only `features` (`av_parse_cpu_caps` names joined by '+': "mmx+mmxext+sse+sse2" is any
    /// x86-64 CPU) of those the CPU has, so asking for more never runs an instruction it lacks. Call it before the
    /// first decode: decoders and swscale contexts choose their code when they are made.
    /// - Returns: the features in force.
    /// - Throws: `DecodeError.internalFailure` for a name FFmpeg does not know.
    @discardableResult
    public static func restrict(to features: String) throws -> UInt32 {
        let cpu = detected
        var flags: UInt32 = 0
        guard av_parse_cpu_caps(&flags, features) >= 0 else {
            throw DecodeError.internalFailure(detail: "FFmpeg knows no CPU features '\(features)'")
        }
        av_force_cpu_flags(Int32(bitPattern: flags & cpu))
        return UInt32(bitPattern: av_get_cpu_flags())
    }

    /// Undoes `restrict`: FFmpeg detects the CPU's features again.
    public static func restoreDetection() { av_force_cpu_flags(-1) }
}
