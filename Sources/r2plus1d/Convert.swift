import ArgumentParser
import R2Plus1D

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a weight file (safetensors, .pth zip or legacy, or MindSpore .ckpt) to F32 safetensors with torchvision's names.")

    @Argument(help: "The weight file to read.")
    var input: String

    @Option(name: .shortAndLong, help: "The safetensors file to write.")
    var output: String

    func run() throws {
        do {
            let dict = try WeightFile.read(path: input)
            _ = try R2Plus1DArchitecture.infer(from: dict)
            try Safetensors.write(dict.names.map { ($0, dict[$0]!) }, metadata: ["format": "pt"], path: output)
        } catch let error as WeightError {
            throw ValidationError(error.description)
        }
    }
}
