import ArgumentParser
import DecodeSandbox
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

    @Option(name: .long, help: "Decoding threads (0: one per core; 1: all on the calling thread, as a decode worker runs).")
    var threads = 1

    @Flag(name: .long, help: "Also decode through a sandboxed worker (as serve does), alternating with in-process calls.")
    var sandboxed = false

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func run() throws {
        let bytes = try readVideo(video)
        var limits = DecodeLimits()
        limits.decoderThreads = threads
        limits.deadlineSeconds = 60
        var decoded = try ClipDecoder.decode(bytes, clips: clips, limits: limits)
        let worker = sandboxed ? SandboxedDecoder(configuration: WorkerConfiguration(inputBytes: bytes.count, maxClips: clips, limits: limits),
                                                  shared: SandboxedDecoder.Shared()) : nil
        defer { worker?.stop() }
        _ = try worker?.decode(bytes, clips: clips)
        var times: [Double] = [], workerTimes: [Double] = [], overheads: [Double] = []
        for _ in 0..<max(1, reps) {
            var start = DispatchTime.now().uptimeNanoseconds
            decoded = try ClipDecoder.decode(bytes, clips: clips, limits: limits)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            guard let worker else { continue }
            start = DispatchTime.now().uptimeNanoseconds
            _ = try worker.decode(bytes, clips: clips)
            workerTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            overheads.append((worker.lastOverheadSeconds ?? 0) * 1000)
        }
        let ms = Self.median(times)
        if let workerMS = workerTimes.isEmpty ? nil : Self.median(workerTimes), !json {
            print(String(format: "sandboxed worker: %.2f ms (median of %d, alternated), %+.2f ms against in-process; "
                         + "outside the worker's own decode (copies, messages, checks): median %.2f ms, max %.2f ms",
                         workerMS, workerTimes.count, workerMS - ms, Self.median(overheads), overheads.max() ?? 0))
        }
        if json {
            var object: [String: Any] = ["video": video, "clips": clips, "ms": ms, "decoded_frames": decoded.decodedFrames]
            if !workerTimes.isEmpty {
                object["sandboxed_ms"] = Self.median(workerTimes)
                object["sandbox_overhead_ms"] = Self.median(overheads)
            }
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(String(format: "%@: %d clip(s) in %.2f ms (median of %d), %d frames decoded, %dx%d %@ %@",
                         video, clips, ms, times.count, decoded.decodedFrames, decoded.info.width, decoded.info.height,
                         decoded.info.codec, decoded.info.container))
        }
    }

    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}
