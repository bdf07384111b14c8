/// R(2+1)D-18 written the way torchvision writes it: every conv, BatchNorm, ReLU and add on its own, with the
/// naive kernels. Slow; it exists so the optimised `R2Plus1D18` can be checked against it.
public struct ReferenceModel: Sendable {
    public let architecture: R2Plus1DArchitecture
    let weights: StateDict

    /// - Throws: as `R2Plus1DArchitecture.infer(from:)`.
    public init(weights: StateDict) throws {
        architecture = try R2Plus1DArchitecture.infer(from: weights)
        self.weights = weights
    }

    /// clips (N, 3, T, H, W) -> logits (N, classes)
    public func forward(_ clips: Tensor) -> Tensor {
        var x = convBN(clips, "stem.0", "stem.1", Conv3dGeometry(kernel: (1, 7, 7), stride: (1, 2, 2), padding: (0, 3, 3)))
        x = NaiveOps.relu(x)
        x = NaiveOps.relu(convBN(x, "stem.3", "stem.4", Conv3dGeometry(kernel: (3, 1, 1), padding: (1, 0, 0))))
        for b in architecture.blocks {
            let s = b.stride
            var y = NaiveOps.relu(convBN(x, "\(b.name).conv1.0.0", "\(b.name).conv1.0.1",
                                         Conv3dGeometry(kernel: (1, 3, 3), stride: (1, s, s), padding: (0, 1, 1))))
            y = NaiveOps.relu(convBN(y, "\(b.name).conv1.0.3", "\(b.name).conv1.1",
                                     Conv3dGeometry(kernel: (3, 1, 1), stride: (s, 1, 1), padding: (1, 0, 0))))
            y = NaiveOps.relu(convBN(y, "\(b.name).conv2.0.0", "\(b.name).conv2.0.1",
                                     Conv3dGeometry(kernel: (1, 3, 3), padding: (0, 1, 1))))
            y = convBN(y, "\(b.name).conv2.0.3", "\(b.name).conv2.1", Conv3dGeometry(kernel: (3, 1, 1), padding: (1, 0, 0)))
            let residual = b.hasDownsample
                ? convBN(x, "\(b.name).downsample.0", "\(b.name).downsample.1", Conv3dGeometry(kernel: (1, 1, 1), stride: (s, s, s)))
                : x
            x = NaiveOps.relu(NaiveOps.add(y, residual))
        }
        let pooled = NaiveOps.globalAveragePool(x)
        return NaiveOps.linear(pooled, weight: weights["fc.weight"]!, bias: weights["fc.bias"]!.data)
    }

    private func convBN(_ x: Tensor, _ conv: String, _ bn: String, _ g: Conv3dGeometry) -> Tensor {
        let y = NaiveOps.conv3d(x, weight: weights["\(conv).weight"]!, geometry: g)
        return NaiveOps.batchNorm(y, gamma: weights["\(bn).weight"]!.data, beta: weights["\(bn).bias"]!.data,
                                  mean: weights["\(bn).running_mean"]!.data, variance: weights["\(bn).running_var"]!.data,
                                  eps: R2Plus1DArchitecture.batchNormEpsilon)
    }
}
