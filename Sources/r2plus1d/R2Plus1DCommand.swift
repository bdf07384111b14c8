import ArgumentParser
import DecodeSandbox
import CLinux
import Glibc

@main
struct R2Plus1DCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "r2plus1d",
        abstract: "Video action recognition with R(2+1)D-18 (Kinetics-400) on the CPU.",
        subcommands: [Serve.self, Classify.self, Forward.self, Convert.self, Bench.self, Preprocess.self, BenchDecode.self, Eval.self]
    )

    static func main() {
        // A decode worker (started by `serve`) sandboxes itself first and never parses commands.
        if CommandLine.arguments.dropFirst().first == "decode-worker" {
            DecodeWorker.run(arguments: Array(CommandLine.arguments.dropFirst(2)))
        }
        // One malloc arena, so the megabyte buffers a clip frees on one thread are reused by the next clip on
        // another instead of sitting in per-thread arenas (docs/PERFORMANCE.md, stage 2). MALLOC_ARENA_MAX wins.
        if getenv("MALLOC_ARENA_MAX") == nil { mallopt(M_ARENA_MAX, 1) }
        // Buffers up to 64 MB from the heap, and no trimming below 256 MB free at its top, so a forward pass does not
        // page-fault its working set in again (docs/PERFORMANCE.md, stage 3); `serve` trims when idle. Operators'
        // MALLOC_* / GLIBC_TUNABLES settings win.
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
