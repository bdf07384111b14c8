/// The shape of an R(2+1)D-18 network: torchvision's
/// `VideoResNet(BasicBlock, [Conv2Plus1D] * 4, [2, 2, 2, 2], R2Plus1dStem)`, with every channel count taken
/// from the weights rather than from a formula.
///
/// Tensor names follow torchvision's `state_dict()`, as `R2Plus1DLayout` lists them.
public struct R2Plus1DArchitecture: Sendable, Equatable {
    public struct Block: Sendable, Equatable {
        /// torchvision's module path, such as `layer2.0`.
        public var name: String
        public var inPlanes: Int
        public var planes: Int
        /// Channels between the spatial and temporal conv of `conv1` and of `conv2`.
        public var midplanes: (conv1: Int, conv2: Int)
        /// 1 or 2, taken by conv1 and the shortcut (`R2Plus1DLayout.Block` says in which dimensions).
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
                blocks.append(Block(name: R2Plus1DLayout.blockName(stage: stage, index: index), inPlanes: inPlanes,
                                    planes: width, midplanes: (mid, mid), stride: stride,
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
        let stem0 = try weights.shape(of: R2Plus1DLayout.stemSpatial.weight, rank: 5)
        let stem3 = try weights.shape(of: R2Plus1DLayout.stemTemporal.weight, rank: 5)
        var blocks: [Block] = []
        var inPlanes = stem3[0]
        for stage in 0..<stageStrides.count {
            for index in 0..<blocksPerStage {
                let name = R2Plus1DLayout.blockName(stage: stage, index: index)
                let stride = index == 0 ? stageStrides[stage] : 1
                let layout = R2Plus1DLayout.Block(name: name, stride: stride)
                let mid1 = try weights.shape(of: layout.conv1Spatial.weight, rank: 5)[0]
                let planes = try weights.shape(of: layout.conv1Temporal.weight, rank: 5)[0]
                let mid2 = try weights.shape(of: layout.conv2Spatial.weight, rank: 5)[0]
                let needsShortcut = stride != 1 || inPlanes != planes
                let hasDownsample = needsShortcut || weights[layout.downsample.weight] != nil
                blocks.append(Block(name: name, inPlanes: inPlanes, planes: planes, midplanes: (mid1, mid2),
                                    stride: stride, hasDownsample: hasDownsample))
                inPlanes = planes
            }
        }
        let classes = try weights.shape(of: R2Plus1DLayout.fcWeight, rank: 2)[0]
        let architecture = Self(stemMidplanes: stem0[0], stemPlanes: stem3[0], blocks: blocks, classes: classes)
        try architecture.validate(weights)
        return architecture
    }

    /// Every tensor this architecture reads, with its shape, in torchvision's order.
    public var expectedTensors: [(name: String, shape: [Int])] {
        var list: [(String, [Int])] = []
        // The convolution's weight, then its BatchNorm's tensors.
        func add(_ conv: R2Plus1DLayout.Conv, out: Int, in inp: Int) {
            let k = conv.geometry.kernel
            list.append((conv.weight, [out, inp, k.t, k.h, k.w]))
            for name in conv.batchNorm.tensors { list.append((name, [out])) }
        }
        add(R2Plus1DLayout.stemSpatial, out: stemMidplanes, in: inputChannels)
        add(R2Plus1DLayout.stemTemporal, out: stemPlanes, in: stemMidplanes)
        for b in blocks {
            let layout = b.layout
            add(layout.conv1Spatial, out: b.midplanes.conv1, in: b.inPlanes)
            add(layout.conv1Temporal, out: b.planes, in: b.midplanes.conv1)
            add(layout.conv2Spatial, out: b.midplanes.conv2, in: b.planes)
            add(layout.conv2Temporal, out: b.planes, in: b.midplanes.conv2)
            if b.hasDownsample { add(layout.downsample, out: b.planes, in: b.inPlanes) }
        }
        list.append((R2Plus1DLayout.fcWeight, [classes, featureCount]))
        list.append((R2Plus1DLayout.fcBias, [classes]))
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
