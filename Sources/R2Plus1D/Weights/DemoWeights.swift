/// Deterministic stand-in weights with torchvision's names and shapes, for running without a download.
///
/// Their predictions mean nothing; everything that reports the model says "demo" when they are in use.
public enum DemoWeights {
    public static let defaultSeed: UInt64 = 0x5EED_2018

    /// Kaiming-uniform convolutions and fc, BatchNorm with non-trivial running statistics, from `seed`.
    public static func make(_ architecture: R2Plus1DArchitecture = .torchvision(), seed: UInt64 = defaultSeed) -> StateDict {
        var random = SplitMix64(seed: seed)
        var dict = StateDict()
        for (name, shape) in architecture.expectedTensors {
            let count = shape.reduce(1, *)
            func uniform(_ lo: Float, _ hi: Float) -> [Float] { (0..<count).map { _ in random.uniform(lo, hi) } }
            let values: [Float]
            if name.hasSuffix("running_mean") || name.hasSuffix(".bias") {
                values = uniform(-0.1, 0.1)
            } else if name.hasSuffix("running_var") {
                values = uniform(0.5, 1.5)
            } else if shape.count == 1 {  // BatchNorm gamma
                values = uniform(0.8, 1.2)
            } else {
                let fanIn = shape.dropFirst().reduce(1, *)
                let bound = (6 / Float(fanIn)).squareRoot()
                values = uniform(-bound, bound)
            }
            dict[name] = Tensor(shape: shape, data: values)
        }
        return dict
    }
}

/// Steele, Lea and Flood's SplitMix64: tiny, fast, and the same on every platform.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [lo, hi), from the top 24 bits.
    mutating func uniform(_ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * Float(next() >> 40) * 0x1p-24
    }
}
