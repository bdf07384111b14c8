import ArgumentParser
import Foundation
import R2Plus1D

/// `--weights FILE | --demo-weights`, shared by every subcommand that runs the model; without either, the
/// environment's R2PLUS1D_WEIGHTS or R2PLUS1D_DEMO_WEIGHTS=1, then the first weight file in weights/.
struct WeightsOptions: ParsableArguments {
    @Option(name: .long, help: "Weight file: safetensors, a PyTorch .pth state dict (zip or legacy), or a MindSpore .ckpt (r2plus1d_mindspore's names or torchvision's). Default: the first .pth, .safetensors or .ckpt in weights/. Env R2PLUS1D_WEIGHTS.")
    var weights: String?

    @Flag(name: .long, help: "Use deterministic demo weights (predictions are meaningless). Env R2PLUS1D_DEMO_WEIGHTS=1.")
    var demoWeights = environment("DEMO_WEIGHTS", 0) == 1

    func validate() throws {
        if weights != nil && demoWeights { throw ValidationError("give --weights or --demo-weights, not both") }
    }

    /// - Throws: `ValidationError` saying how to get weights when none are named and weights/ has none.
    func requiredSource() throws -> WeightsSource {
        if let path = weights ?? ProcessInfo.processInfo.environment["R2PLUS1D_WEIGHTS"] { return .file(path: path) }
        if demoWeights { return .demo(seed: DemoWeights.defaultSeed) }
        do { return try WeightsSource.discover() } catch let error as WeightError { throw ValidationError(error.description) }
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
