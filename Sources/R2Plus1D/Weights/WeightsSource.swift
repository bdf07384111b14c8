import Foundation

/// Where a model's weights come from, and how the model names them wherever it reports itself.
public enum WeightsSource: Sendable, Equatable {
    case file(path: String)
    case demo(seed: UInt64)

    /// - Throws: `WeightError` when the file cannot be read.
    public func load(architecture: R2Plus1DArchitecture = .torchvision()) throws -> StateDict {
        switch self {
        case .file(let path): try WeightFile.read(path: path)
        case .demo(let seed): DemoWeights.make(architecture, seed: seed)
        }
    }

    /// The weights `r2plus1d serve` uses when told none: in `directory` (relative paths from the working
    /// directory), the first `r2plus1d_18-*` file ending in .pth, .safetensors or .ckpt, else the first such file by name.
    /// - Throws: `WeightError.noWeightFile` with the directory's absolute path.
    public static func discover(in directory: String = "weights") throws -> WeightsSource {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".pth") || $0.hasSuffix(".safetensors") || $0.hasSuffix(".ckpt") }.sorted()
        guard let chosen = files.first(where: { $0.hasPrefix("r2plus1d_18-") }) ?? files.first else {
            throw WeightError.noWeightFile(directory: URL(fileURLWithPath: directory).standardizedFileURL.path)
        }
        return .file(path: "\(directory)/\(chosen)")
    }

    public var isDemo: Bool { if case .demo = self { true } else { false } }

    /// The file's name, or "demo" for the demo weights.
    public var displayName: String {
        switch self {
        case .file(let path): String(path.split(separator: "/").last ?? Substring(path))
        case .demo: "demo"
        }
    }
}

extension Tensor {
    /// Uniform values in [-1, 1) from `seed`: the same on every machine.
    public static func random(shape: [Int], seed: UInt64) -> Tensor {
        var random = SplitMix64(seed: seed)
        return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in random.uniform(-1, 1) })
    }
}
