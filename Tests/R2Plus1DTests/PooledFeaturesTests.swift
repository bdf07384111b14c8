import R2Plus1D
import Testing

/// The features `fc` reads, against torchvision's `model.avgpool(x).flatten(1)` on the same weights and clips.
@Suite struct PooledFeaturesTests {
    static let tolerance: Float = 1e-4

    @Test(arguments: [true, false])
    func pooledFeaturesMatchTorchvision(winograd: Bool) throws {
        let model = try R2Plus1D18(weights: WeightFile.read(path: Fixtures.path("tiny_r2plus1d.safetensors")), winograd: winograd)
        let (clips, expectedLogits) = try Fixtures.tinyIO()
        let expected = try Safetensors.read(path: Fixtures.path("tiny_features.safetensors")).tensors["features"]!
        let (features, logits) = model.forwardWithFeatures(clips)
        #expect(features.shape == [2, 20])
        #expect(features.maxAbsDifference(expected) <= Self.tolerance)
        #expect(logits.maxAbsDifference(expectedLogits) <= Self.tolerance)
    }

    /// One clip alone splits its convolutions over threads instead of running clips side by side: same features.
    @Test func singleClipGivesTheSameFeaturesAsItsBatch() throws {
        let model = try R2Plus1D18(weights: WeightFile.read(path: Fixtures.path("tiny_r2plus1d.safetensors")))
        let (clips, _) = try Fixtures.tinyIO()
        let expected = try Safetensors.read(path: Fixtures.path("tiny_features.safetensors")).tensors["features"]!
        let second = Tensor(shape: [1] + clips.shape.dropFirst(), data: Array(clips.data[(clips.count / 2)...]))
        let features = model.forwardWithFeatures(second).features
        #expect(features.maxAbsDifference(Tensor(shape: [1, 20], data: Array(expected.data[20...]))) <= Self.tolerance)
    }
}
