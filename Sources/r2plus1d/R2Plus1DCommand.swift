import ArgumentParser
import CLinux
import Glibc

@main
struct R2Plus1DCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "r2plus1d",
        abstract: "Video action recognition with R(2+1)D-18 (Kinetics-400) on the CPU.",
        subcommands: [Serve.self, Classify.self, Forward.self, Convert.self, Bench.self, Preprocess.self, BenchDecode.self]
    )

    static func main() {
        // One malloc arena: the engine frees and reallocates megabyte buffers on whichever thread runs a clip, and
        // with glibc's default of one arena per thread the freed space sat in other threads' arenas (peak RSS of
        // `bench --batch 1,4,8` 516 MB against 452 with one arena, at the same speed). Small allocations still
        // go through each thread's cache. An operator's MALLOC_ARENA_MAX wins.
        if getenv("MALLOC_ARENA_MAX") == nil { mallopt(M_ARENA_MAX, 1) }
        // Keep the engine's buffers in the heap between uses. A forward pass frees and reallocates tens of
        // megabytes per convolution; with glibc's defaults the ones above the (at most 32 MB) mmap threshold were
        // fresh mappings and the heap's free top was returned after each pass, so every pass page-faulted its
        // working set in again (150 K faults per 6 passes; batch 1 8-10% and batch 4 6-14% slower in alternated
        // runs). Up to 64 MB from the heap, and no trimming below 256 MB free at its top: the process holds its
        // high-water mark (peak RSS of `bench --batch 1,4,8` 454 -> 467 MB; `serve` trims it when idle).
        // Operators' MALLOC_* / GLIBC_TUNABLES settings win.
        if getenv("MALLOC_MMAP_THRESHOLD_") == nil && getenv("MALLOC_TRIM_THRESHOLD_") == nil
            && getenv("GLIBC_TUNABLES") == nil
        {
            mallopt(M_MMAP_THRESHOLD, 64 << 20)
            mallopt(M_TRIM_THRESHOLD, 256 << 20)
        }
        do {
            try BLASStartup.run(arguments: Array(CommandLine.arguments.dropFirst()))
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
