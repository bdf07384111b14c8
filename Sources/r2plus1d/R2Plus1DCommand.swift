import ArgumentParser

@main
struct R2Plus1DCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "r2plus1d",
        abstract: "Video action recognition with R(2+1)D-18 (Kinetics-400) on the CPU.",
        subcommands: [Serve.self, Classify.self, Forward.self, Convert.self, Bench.self, Preprocess.self, BenchDecode.self]
    )
}
