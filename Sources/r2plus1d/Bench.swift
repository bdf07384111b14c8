import ArgumentParser
import Cores
import Foundation
import R2Plus1D
import VideoDecode

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the forward pass on random 3x16x112x112 clips: median ms, clips/s, GFLOP/s, peak RSS.")

    @OptionGroup var blas: BLASOptions
    @OptionGroup var weights: WeightsOptions

    @Option(name: .long, help: "Comma-separated batch sizes.")
    var batch = "1,2,4,8"

    @Option(name: .long, help: "Threads the forward pass runs on (default: the cores available).")
    var threads: Int?

    @Option(name: .long, help: "Timed runs per batch size, after one warm-up.")
    var reps = 3

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    @Flag(name: .long, help: "Instead: each convolution's median time for one clip, by torchvision module name.")
    var layers = false

    @Flag(name: .long, help: "Run every convolution without Winograd (im2col or per-tap GEMMs), to compare against.")
    var noWinograd = false

    /// torchvision's figure for r2plus1d_18: 40.52 GMAC per 3x16x112x112 clip.
    static let gflopPerClip = 81.04

    func run() throws {
        let batches = batch.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !batches.isEmpty, batches.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--batch takes sizes like 1,4") }
        let threadCount = threads ?? Cores.available
        BLASThreads.set(threadCount)
        let model = try weights.loadModel(winograd: !noWinograd)
        if layers { return try printLayerTimes(model, threads: threadCount) }
        if !json {
            print("OpenBLAS kernels: \(BLASKernels.name), \(threadCount) threads")
            if let notice = BLASKernels.pinNotice { print(notice) }
        }
        var results: [[String: Any]] = []
        for n in batches {
            let clips = Tensor.random(shape: [n] + ClipSpec.kinetics.shape, seed: UInt64(n))
            _ = model.forward(clips)
            var times: [Double] = []
            for _ in 0..<max(1, reps) {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = model.forward(clips)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            let ms = times.sorted()[times.count / 2]
            // The fastest run too: on a shared host other work only ever adds time, so it is the steadier figure
            // for comparing two builds.
            let row: [String: Any] = [
                "batch": n, "ms": ms, "fastest_ms": times.min()!, "clips_per_second": Double(n) * 1000 / ms,
                "gflops": Self.gflopPerClip * Double(n) * 1000 / ms, "peak_rss_mb": peakRSSMegabytes(),
            ]
            results.append(row)
            if !json {
                print(String(format: "batch %2d  %8.1f ms  %6.2f clips/s  %6.1f GFLOP/s  peak RSS %6.0f MB",
                             n, ms, row["clips_per_second"] as! Double, row["gflops"] as! Double, row["peak_rss_mb"] as! Double))
            }
        }
        if json {
            let object: [String: Any] = ["threads": threadCount, "blas_kernels": BLASKernels.name, "weights": try weights.requiredSource().displayName,
                                         "results": results]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}

extension Bench {
    /// `--layers`: the median over `reps` single-clip passes of each convolution's time.
    func printLayerTimes(_ model: R2Plus1D18, threads: Int) throws {
        let clip = Tensor.random(shape: [1] + ClipSpec.kinetics.shape, seed: 1)
        _ = model.forward(clip)
        let runs = (0..<max(1, reps)).map { _ in model.convolutionTimes(clip) }
        let layers = runs[0].indices.map { i in
            (name: runs[0][i].name, ms: runs.map { $0[i].milliseconds }.sorted()[runs.count / 2])
        }
        if json {
            let object: [String: Any] = ["threads": threads, "blas_kernels": BLASKernels.name,
                                         "layers": layers.map { ["name": $0.name, "ms": $0.ms] }]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("OpenBLAS kernels: \(BLASKernels.name), \(threads) threads; median of \(runs.count) single-clip passes")
        func line(_ name: String, _ ms: Double) -> String {
            name.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%8.2f ms", ms)
        }
        for layer in layers { print(line(layer.name, layer.ms)) }
        print(line("sum", layers.reduce(0) { $0 + $1.ms }))
    }
}

/// The process's peak resident set size so far, in MiB.
func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_maxrss) / 1024
}
