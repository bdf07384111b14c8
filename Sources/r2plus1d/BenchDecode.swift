import ArgumentParser
import Foundation
import VideoDecode

struct BenchDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-decode",
        abstract: "Time bytes in memory -> clip tensors for one video: median ms per call.")

    @Argument(help: "The video file.")
    var video: String

    @Option(name: .long, help: "Clips to sample.")
    var clips = 1

    @Option(name: .long, help: "Timed calls, after one warm-up.")
    var reps = 5

    @Option(name: .long, help: "Decoder threads (0: FFmpeg chooses).")
    var threads = 1

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func run() throws {
        let bytes = try readVideo(video)
        var limits = DecodeLimits()
        limits.decoderThreads = threads
        limits.deadlineSeconds = 60
        var decoded = try ClipDecoder.decode(bytes, clips: clips, limits: limits)
        var times: [Double] = []
        for _ in 0..<max(1, reps) {
            let start = DispatchTime.now().uptimeNanoseconds
            decoded = try ClipDecoder.decode(bytes, clips: clips, limits: limits)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        let ms = times.sorted()[times.count / 2]
        if json {
            let object: [String: Any] = ["video": video, "clips": clips, "ms": ms, "decoded_frames": decoded.decodedFrames]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(String(format: "%@: %d clip(s) in %.1f ms (median of %d), %d frames decoded, %dx%d %@ %@",
                         video, clips, ms, times.count, decoded.decodedFrames, decoded.info.width, decoded.info.height,
                         decoded.info.codec, decoded.info.container))
        }
    }
}
