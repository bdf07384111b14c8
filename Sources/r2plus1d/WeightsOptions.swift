import ArgumentParser
import R2Plus1D

/// `--weights FILE | --demo-weights`, shared by every subcommand that runs the model.
struct WeightsOptions: ParsableArguments {
    @Option(name: .long, help: "Weight file: safetensors, or a PyTorch .pth state dict (zip or legacy).")
    var weights: String?

    @Flag(name: .long, help: "Use deterministic demo weights (predictions are meaningless).")
    var demoWeights = false

    func validate() throws {
        if weights != nil && demoWeights { throw ValidationError("give --weights or --demo-weights, not both") }
    }

    /// The source named on the command line, or nil when neither option was given.
    var source: WeightsSource? {
        if let weights { return .file(path: weights) }
        return demoWeights ? .demo(seed: DemoWeights.defaultSeed) : nil
    }

    func requiredSource() throws -> WeightsSource {
        guard let source else { throw ValidationError("give --weights FILE or --demo-weights") }
        return source
    }

    /// - Parameter winograd: false runs every convolution without Winograd, for comparisons.
    func loadModel(winograd: Bool = true) throws -> R2Plus1D18 {
        let source = try requiredSource()
        do {
            return try R2Plus1D18(weights: source.load(), winograd: winograd)
        } catch let error as WeightError {
            throw ValidationError(error.description)
        }
    }
}
