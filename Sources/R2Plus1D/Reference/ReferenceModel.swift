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
        var x = NaiveOps.relu(convBN(clips, R2Plus1DLayout.stemSpatial))
        x = NaiveOps.relu(convBN(x, R2Plus1DLayout.stemTemporal))
        for b in architecture.blocks {
            let layout = b.layout
            var y = NaiveOps.relu(convBN(x, layout.conv1Spatial))
            y = NaiveOps.relu(convBN(y, layout.conv1Temporal))
            y = NaiveOps.relu(convBN(y, layout.conv2Spatial))
            y = convBN(y, layout.conv2Temporal)
            let residual = b.hasDownsample ? convBN(x, layout.downsample) : x
            x = NaiveOps.relu(NaiveOps.add(y, residual))
        }
        let pooled = NaiveOps.globalAveragePool(x)
        return NaiveOps.linear(pooled, weight: weights[R2Plus1DLayout.fcWeight]!, bias: weights[R2Plus1DLayout.fcBias]!.data)
    }

    private func convBN(_ x: Tensor, _ conv: R2Plus1DLayout.Conv) -> Tensor {
        let y = NaiveOps.conv3d(x, weight: weights[conv.weight]!, geometry: conv.geometry)
        let bn = conv.batchNorm
        return NaiveOps.batchNorm(y, gamma: weights[bn.weight]!.data, beta: weights[bn.bias]!.data,
                                  mean: weights[bn.runningMean]!.data, variance: weights[bn.runningVar]!.data,
                                  eps: R2Plus1DArchitecture.batchNormEpsilon)
    }
}
