import ArgumentParser
import Foundation
import R2Plus1D
import VideoDecode

struct Preprocess: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode a video into clip tensors: 'clips' [N,3,16,112,112] F32, with sampling metadata.")

    @Argument(help: "The video file.")
    var video: String

    @Option(name: .shortAndLong, help: "safetensors file to write.")
    var output: String

    @Option(name: .long, help: "Clips to sample, spread over the video.")
    var clips = 1

    @Option(name: .customLong("ffmpeg-cpu-flags"),
            help: "Let FFmpeg use only these of the CPU's features, named as for ffmpeg's -cpuflags (e.g. mmx+mmxext+sse+sse2): decode with the SIMD code an older CPU runs.")
    var ffmpegCPUFlags: String?

    func validate() throws {
        guard clips >= 1 else { throw ValidationError("--clips must be at least 1") }
    }

    func run() throws {
        if let ffmpegCPUFlags {
            do { try FFmpegCPU.restrict(to: ffmpegCPUFlags) } catch { throw ValidationError("\(error)") }
        }
        let bytes = try readVideo(video)
        let decoded: DecodedClips
        do {
            decoded = try ClipDecoder.decode(bytes, clips: clips, limits: .allCores)
        } catch let error as DecodeError {
            throw ValidationError("\(video): \(error)")
        }
        let tensor = Tensor(shape: decoded.shape, data: decoded.values)
        try Safetensors.write([("clips", tensor)], metadata: ["r2plus1d": try metadataJSON(decoded)], path: output)
    }

    /// Source container, codec, size, fps, duration, rotation, and each clip's 16 frame times.
    func metadataJSON(_ decoded: DecodedClips) throws -> String {
        struct Metadata: Encodable {
            var video: VideoInfo
            var clips: [[Double]]
            func encode(to encoder: Encoder) throws {
                try video.encode(to: encoder)
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(clips, forKey: .clips)
            }
            enum Key: String, CodingKey { case clips }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(Metadata(video: decoded.info, clips: decoded.frameTimes)), as: UTF8.self)
    }
}

/// The whole file, or a clear message.
func readVideo(_ path: String) throws -> Data {
    do {
        return try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw ValidationError("cannot read \(path): \(error.localizedDescription)")
    }
}
