/// The shape of an R(2+1)D-18 network: torchvision's
/// `VideoResNet(BasicBlock, [Conv2Plus1D] * 4, [2, 2, 2, 2], R2Plus1dStem)`, with every channel count taken
/// from the weights rather than from a formula.
///
/// Tensor names follow torchvision's `state_dict()`:
/// - `stem.0` conv (1,7,7) s(1,2,2) p(0,3,3), `stem.1` BN, `stem.3` conv (3,1,1) p(1,0,0), `stem.4` BN;
/// - `layerL.B.conv1.0.0` spatial conv (1,3,3), `conv1.0.1` BN, `conv1.0.3` temporal conv (3,1,1), `conv1.1` BN,
///   the same under `conv2`, and `layerL.0.downsample.0` conv (1,1,1) + `downsample.1` BN where present;
/// - `fc.weight`, `fc.bias`.
public struct R2Plus1DArchitecture: Sendable, Equatable {
    public struct Block: Sendable, Equatable {
        /// torchvision's module path, such as `layer2.0`.
        public var name: String
        public var inPlanes: Int
        public var planes: Int
        /// Channels between the spatial and temporal conv of `conv1` and of `conv2`.
        public var midplanes: (conv1: Int, conv2: Int)
        /// 1 or 2; on the spatial conv as (1,s,s), on the temporal conv as (s,1,1), on the shortcut as (s,s,s).
        public var stride: Int
        public var hasDownsample: Bool

        public static func == (a: Block, b: Block) -> Bool {
            a.name == b.name && a.inPlanes == b.inPlanes && a.planes == b.planes && a.midplanes == b.midplanes
                && a.stride == b.stride && a.hasDownsample == b.hasDownsample
        }
    }

    public var inputChannels = 3
    public var stemMidplanes: Int
    public var stemPlanes: Int
    public var blocks: [Block]
    public var classes: Int

    public var featureCount: Int { blocks.last?.planes ?? stemPlanes }

    static let stageStrides = [1, 2, 2, 2]
    static let blocksPerStage = 2
    public static let batchNormEpsilon: Float = 1e-5

    /// torchvision's `r2plus1d_18(num_classes: classes)`, or a narrower one with the same topology.
    public static func torchvision(classes: Int = 400, stemMidplanes: Int = 45, stemPlanes: Int = 64,
                                   planes: [Int] = [64, 128, 256, 512]) -> Self {
        precondition(planes.count == stageStrides.count)
        var blocks: [Block] = []
        var inPlanes = stemPlanes
        for (stage, width) in planes.enumerated() {
            for index in 0..<blocksPerStage {
                let stride = index == 0 ? stageStrides[stage] : 1
                // torchvision's BasicBlock: one midplanes for both convs of the block.
                let mid = (inPlanes * width * 3 * 3 * 3) / (inPlanes * 3 * 3 + 3 * width)
                blocks.append(Block(name: "layer\(stage + 1).\(index)", inPlanes: inPlanes, planes: width,
                                    midplanes: (mid, mid), stride: stride,
                                    hasDownsample: stride != 1 || inPlanes != width))
                inPlanes = width
            }
        }
        return Self(stemMidplanes: stemMidplanes, stemPlanes: stemPlanes, blocks: blocks, classes: classes)
    }

    /// Reads the channel counts off the weights and checks that every tensor is there with a consistent shape
    /// and that nothing else is.
    /// - Throws: `WeightError.missingTensor`, `.shapeMismatch`, `.unexpectedTensor`.
    public static func infer(from weights: StateDict) throws -> Self {
        let stem0 = try weights.shape(of: "stem.0.weight", rank: 5)
        let stem3 = try weights.shape(of: "stem.3.weight", rank: 5)
        var blocks: [Block] = []
        var inPlanes = stem3[0]
        for stage in 0..<stageStrides.count {
            for index in 0..<blocksPerStage {
                let name = "layer\(stage + 1).\(index)"
                let mid1 = try weights.shape(of: "\(name).conv1.0.0.weight", rank: 5)[0]
                let planes = try weights.shape(of: "\(name).conv1.0.3.weight", rank: 5)[0]
                let mid2 = try weights.shape(of: "\(name).conv2.0.0.weight", rank: 5)[0]
                let stride = index == 0 ? stageStrides[stage] : 1
                let needsShortcut = stride != 1 || inPlanes != planes
                let hasDownsample = needsShortcut || weights["\(name).downsample.0.weight"] != nil
                blocks.append(Block(name: name, inPlanes: inPlanes, planes: planes, midplanes: (mid1, mid2),
                                    stride: stride, hasDownsample: hasDownsample))
                inPlanes = planes
            }
        }
        let classes = try weights.shape(of: "fc.weight", rank: 2)[0]
        let architecture = Self(stemMidplanes: stem0[0], stemPlanes: stem3[0], blocks: blocks, classes: classes)
        try architecture.validate(weights)
        return architecture
    }

    /// Every tensor this architecture reads, with its shape, in torchvision's order.
    public var expectedTensors: [(name: String, shape: [Int])] {
        var list: [(String, [Int])] = []
        func conv(_ name: String, _ out: Int, _ inp: Int, _ k: (Int, Int, Int)) {
            list.append(("\(name).weight", [out, inp, k.0, k.1, k.2]))
        }
        func batchNorm(_ name: String, _ c: Int) {
            for field in ["weight", "bias", "running_mean", "running_var"] { list.append(("\(name).\(field)", [c])) }
        }
        conv("stem.0", stemMidplanes, inputChannels, (1, 7, 7)); batchNorm("stem.1", stemMidplanes)
        conv("stem.3", stemPlanes, stemMidplanes, (3, 1, 1)); batchNorm("stem.4", stemPlanes)
        for b in blocks {
            conv("\(b.name).conv1.0.0", b.midplanes.conv1, b.inPlanes, (1, 3, 3)); batchNorm("\(b.name).conv1.0.1", b.midplanes.conv1)
            conv("\(b.name).conv1.0.3", b.planes, b.midplanes.conv1, (3, 1, 1)); batchNorm("\(b.name).conv1.1", b.planes)
            conv("\(b.name).conv2.0.0", b.midplanes.conv2, b.planes, (1, 3, 3)); batchNorm("\(b.name).conv2.0.1", b.midplanes.conv2)
            conv("\(b.name).conv2.0.3", b.planes, b.midplanes.conv2, (3, 1, 1)); batchNorm("\(b.name).conv2.1", b.planes)
            if b.hasDownsample {
                conv("\(b.name).downsample.0", b.planes, b.inPlanes, (1, 1, 1)); batchNorm("\(b.name).downsample.1", b.planes)
            }
        }
        list.append(("fc.weight", [classes, featureCount]))
        list.append(("fc.bias", [classes]))
        return list
    }

    /// Number of learned parameters (BatchNorm running statistics not counted), as torchvision reports it.
    public var parameterCount: Int {
        expectedTensors.filter { !$0.name.hasSuffix("running_mean") && !$0.name.hasSuffix("running_var") }
            .reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    /// - Throws: `WeightError.missingTensor`, `.shapeMismatch` or `.unexpectedTensor`.
    public func validate(_ weights: StateDict) throws {
        let expected = expectedTensors
        for (name, shape) in expected { _ = try weights.tensor(name, shape: shape) }
        let known = Set(expected.map(\.name))
        for name in weights.names where !known.contains(name) && !name.hasSuffix(".num_batches_tracked") {
            throw WeightError.unexpectedTensor(name: name)
        }
    }
}
