@testable import R2Plus1D
import Testing

/// The network against torchvision's own output on the same weights (tools/make_fixtures.py).
@Suite struct ModelParityTests {
    static let tolerance: Float = 1e-4

    /// With and without Winograd (`winograd: false` is what `bench --no-winograd` compares against).
    @Test(arguments: ["tiny_r2plus1d.pth", "tiny_r2plus1d_legacy.pth", "tiny_r2plus1d.safetensors"], [true, false])
    func optimisedModelMatchesTorchvision(file: String, winograd: Bool) throws {
        let weights = try WeightFile.read(path: Fixtures.path(file))
        let model = try R2Plus1D18(weights: weights, winograd: winograd)
        let (clips, expected) = try Fixtures.tinyIO()
        let logits = model.forward(clips)
        #expect(logits.shape == [2, 10])
        #expect(logits.maxAbsDifference(expected) <= Self.tolerance)
    }

    @Test func referenceModelMatchesTorchvision() throws {
        let weights = try WeightFile.read(path: Fixtures.path("tiny_r2plus1d.pth"))
        let (clips, expected) = try Fixtures.tinyIO()
        let logits = try ReferenceModel(weights: weights).forward(clips)
        #expect(logits.maxAbsDifference(expected) <= Self.tolerance)
    }

    @Test func architectureIsReadFromTheWeights() throws {
        let arch = try R2Plus1DArchitecture.infer(from: WeightFile.read(path: Fixtures.path("tiny_r2plus1d.pth")))
        #expect(arch.stemMidplanes == 6 && arch.stemPlanes == 8 && arch.classes == 10)
        #expect(arch.blocks.map(\.planes) == [8, 8, 12, 12, 16, 16, 20, 20])
        #expect(arch.blocks.map(\.hasDownsample) == [false, false, true, false, true, false, true, false])
        #expect(arch == .torchvision(classes: 10, stemMidplanes: 6, stemPlanes: 8, planes: [8, 12, 16, 20]))
    }

    /// The per-convolution profile names every conv of torchvision's state dict once, in running order, so
    /// scripts/profile-layers.sh can join it with ONNX Runtime's nodes.
    @Test func convolutionTimesNameEveryTorchvisionConv() throws {
        let weights = try WeightFile.read(path: Fixtures.path("tiny_r2plus1d.pth"))
        let convs = Set(weights.names.filter { $0.hasSuffix(".weight") && weights[$0]!.shape.count == 5 }
            .map { String($0.dropLast(".weight".count)) })
        let model = try R2Plus1D18(weights: weights)
        let (clips, _) = try Fixtures.tinyIO()
        let clip = Tensor(shape: [1] + clips.shape.dropFirst(), data: Array(clips.data[0..<(clips.count / 2)]))
        let times = model.convolutionTimes(clip)
        #expect(times.count == convs.count && Set(times.map(\.name)) == convs)
        #expect(times.first?.name == "stem.0" && times.last?.name == "layer4.1.conv2.0.3")
        #expect(times.allSatisfy { $0.milliseconds >= 0 })
    }

    @Test func torchvisionShapesAndParameterCount() {
        let arch = R2Plus1DArchitecture.torchvision()
        // torchvision's r2plus1d_18: 31,505,325 parameters; midplanes 230 in both convs of layer2.0, 288 in layer2.1.
        #expect(arch.parameterCount == 31_505_325)
        #expect(arch.blocks[2].midplanes == (230, 230))
        #expect(arch.blocks[3].midplanes == (288, 288))
        #expect(arch.featureCount == 512 && arch.classes == 400)
    }
}

/// The full-size network on demo weights. Serialized: one test sets the engine's thread count.
@Suite(.serialized) struct FullSizeModelTests {
    @Test func batchEqualsSingleClipsAndIsFinite() throws {
        let model = try R2Plus1D18(weights: DemoWeights.make())
        let clips = Tensor.random(shape: [2, 3, 16, 112, 112], seed: 42)
        let batch = model.forward(clips)
        #expect(batch.shape == [2, 400])
        #expect(batch.data.allSatisfy { $0.isFinite })
        for i in 0..<2 {
            let clipSize = clips.count / 2
            let single = model.forward(Tensor(shape: [1, 3, 16, 112, 112],
                                              data: Array(clips.data[i * clipSize..<(i + 1) * clipSize])))
            let row = Tensor(shape: [1, 400], data: Array(batch.data[i * 400..<(i + 1) * 400]))
            // Batches run clip-parallel on single-threaded BLAS, single clips on all threads: the sums are ordered
            // differently, so compare relative to the logits' scale.
            let scale = max(1, row.data.map(abs).max() ?? 1)
            #expect(single.maxAbsDifference(row) <= 1e-5 * scale)
        }
        // Different clips give different scores: the network is not ignoring its input.
        #expect(batch.data[0..<400] != batch.data[400..<800])
    }

    /// A batch smaller than the thread count shares the threads among its clips, as a single clip takes them all;
    /// a larger one runs a clip a thread.
    @Test func aSmallBatchSharesTheThreads() {
        let shares = [(1, 8, 8), (2, 8, 4), (3, 8, 2), (4, 8, 2), (5, 8, 1), (8, 8, 1), (16, 8, 1), (1, 2, 2), (2, 2, 1), (3, 2, 1),
                      (1, 1, 1), (4, 1, 1)]
        for (clips, threads, expected) in shares {
            #expect(R2Plus1D18.threadsPerClip(clips: clips, threads: threads) == expected, "\(clips) clips on \(threads) threads")
        }
    }

    /// Clips that split their convolutions over several threads each give the logits they give alone.
    @Test func aBatchSplitOverMoreThreadsThanClipsEqualsItsClips() throws {
        let model = try R2Plus1D18(weights: DemoWeights.make())
        let clips = Tensor.random(shape: [2, 3, 16, 112, 112], seed: 7)
        let threads = BLASThreads.current
        defer { BLASThreads.set(threads) }
        BLASThreads.set(4)
        let batch = model.forward(clips)
        // The engine splits the work; OpenBLAS runs each product on one thread, whatever the count.
        #expect(BLASThreads.current == 4 && BLASThreads.openBLAS == 1)
        BLASThreads.set(1)
        let clipSize = clips.count / 2
        for i in 0..<2 {
            let single = model.forward(Tensor(shape: [1, 3, 16, 112, 112], data: Array(clips.data[i * clipSize..<(i + 1) * clipSize])))
            let row = Tensor(shape: [1, 400], data: Array(batch.data[i * 400..<(i + 1) * 400]))
            let scale = max(1, row.data.map(abs).max() ?? 1)
            #expect(single.maxAbsDifference(row) <= 1e-5 * scale)
        }
    }

    @Test func demoWeightsAreDeterministic() {
        let a = DemoWeights.make(.torchvision(classes: 5, planes: [4, 4, 4, 4]), seed: 1)
        let b = DemoWeights.make(.torchvision(classes: 5, planes: [4, 4, 4, 4]), seed: 1)
        let c = DemoWeights.make(.torchvision(classes: 5, planes: [4, 4, 4, 4]), seed: 2)
        #expect(a.names == b.names && a.names.allSatisfy { a[$0] == b[$0] })
        #expect(a["fc.weight"] != c["fc.weight"])
    }
}
