import ArgumentParser
import R2Plus1D

struct Forward: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the network on clips from a safetensors file: tensor 'clips' [N,3,T,H,W] -> 'logits' [N,C].")

    @OptionGroup var blas: BLASOptions
    @OptionGroup var weights: WeightsOptions

    @Option(name: .long, help: "safetensors file holding tensor 'clips' (F32, F16 or BF16).")
    var input: String

    @Option(name: .shortAndLong, help: "safetensors file to write tensor 'logits' to.")
    var output: String

    @Option(name: .long, help: "Threads the forward pass runs on (default: the cores available).")
    var threads: Int?

    func run() throws {
        if let threads { BLASThreads.set(threads) }
        let model = try weights.loadModel()
        let contents = try Safetensors.read(path: input)
        guard let clips = contents.tensors["clips"] else { throw ValidationError("\(input) has no tensor 'clips'") }
        guard clips.shape.count == 5, clips.shape[0] >= 1, clips.shape[1] == 3, clips.shape[2] >= 1,
              clips.shape[3] >= 1, clips.shape[4] >= 1 else {
            throw ValidationError("'clips' must be [N,3,T,H,W], got \(clips.shape)")
        }
        let logits = model.forward(clips)
        try Safetensors.write([("logits", logits)],
                              metadata: ["weights": try weights.requiredSource().displayName, "blas_kernels": BLASKernels.name],
                              path: output)
    }
}
