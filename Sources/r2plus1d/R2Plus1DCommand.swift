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
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
