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
