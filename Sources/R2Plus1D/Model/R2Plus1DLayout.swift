/// Where every convolution of R(2+1)D-18 and its BatchNorm sit in torchvision's `state_dict()`, and their kernel,
/// stride and padding: the one table the engine (`R2Plus1D18`), the weight check (`R2Plus1DArchitecture`) and the
/// reference model read.
///
/// Channel counts are not here: they come from the weights (`R2Plus1DArchitecture`).
enum R2Plus1DLayout {
    /// A convolution without bias and the BatchNorm after it.
    struct Conv: Sendable {
        /// torchvision's module path of the convolution, `layer2.0.conv1.0.0`.
        let name: String
        let batchNorm: BatchNorm
        let geometry: Conv3dGeometry

        init(_ name: String, batchNorm: String, geometry: Conv3dGeometry) {
            self.name = name
            self.batchNorm = BatchNorm(name: batchNorm)
            self.geometry = geometry
        }

        var weight: String { "\(name).weight" }
    }

    /// An inference BatchNorm's tensors, each of one value per channel.
    struct BatchNorm: Sendable {
        /// torchvision's module path, `layer2.0.conv1.0.1`.
        let name: String

        var weight: String { "\(name).weight" }
        var bias: String { "\(name).bias" }
        var runningMean: String { "\(name).running_mean" }
        var runningVar: String { "\(name).running_var" }
        /// In `state_dict()` order.
        var tensors: [String] { [weight, bias, runningMean, runningVar] }
    }

    /// torchvision's `R2Plus1dStem`: a spatial then a temporal convolution, each with its BatchNorm and ReLU.
    static let stemSpatial = Conv("stem.0", batchNorm: "stem.1",
                                  geometry: Conv3dGeometry(kernel: (1, 7, 7), stride: (1, 2, 2), padding: (0, 3, 3)))
    static let stemTemporal = Conv("stem.3", batchNorm: "stem.4", geometry: Conv3dGeometry(kernel: (3, 1, 1), padding: (1, 0, 0)))

    /// A `BasicBlock` of two `Conv2Plus1D`s, each a spatial then a temporal convolution: conv1 carries the block's
    /// stride, conv2 has none, and the shortcut's (1,1,1) `downsample` strides in all three dimensions.
    struct Block: Sendable {
        let conv1Spatial: Conv
        let conv1Temporal: Conv
        let conv2Spatial: Conv
        let conv2Temporal: Conv
        /// The shortcut's convolution, where the block has one.
        let downsample: Conv

        /// - Parameters:
        ///   - name: torchvision's module path, `layer2.0` (`R2Plus1DLayout.blockName`).
        ///   - stride: 1 or 2.
        init(name: String, stride s: Int) {
            conv1Spatial = Conv("\(name).conv1.0.0", batchNorm: "\(name).conv1.0.1",
                                geometry: Conv3dGeometry(kernel: (1, 3, 3), stride: (1, s, s), padding: (0, 1, 1)))
            conv1Temporal = Conv("\(name).conv1.0.3", batchNorm: "\(name).conv1.1",
                                 geometry: Conv3dGeometry(kernel: (3, 1, 1), stride: (s, 1, 1), padding: (1, 0, 0)))
            conv2Spatial = Conv("\(name).conv2.0.0", batchNorm: "\(name).conv2.0.1",
                                geometry: Conv3dGeometry(kernel: (1, 3, 3), padding: (0, 1, 1)))
            conv2Temporal = Conv("\(name).conv2.0.3", batchNorm: "\(name).conv2.1",
                                 geometry: Conv3dGeometry(kernel: (3, 1, 1), padding: (1, 0, 0)))
            downsample = Conv("\(name).downsample.0", batchNorm: "\(name).downsample.1",
                              geometry: Conv3dGeometry(kernel: (1, 1, 1), stride: (s, s, s)))
        }
    }

    /// Module path of block `index` of stage `stage` (both from 0): `layer\(stage + 1).\(index)`.
    static func blockName(stage: Int, index: Int) -> String { "layer\(stage + 1).\(index)" }

    static let fcWeight = "fc.weight"
    static let fcBias = "fc.bias"
}

extension R2Plus1DArchitecture.Block {
    /// This block's tensor names and convolution geometries.
    var layout: R2Plus1DLayout.Block { R2Plus1DLayout.Block(name: name, stride: stride) }
}
