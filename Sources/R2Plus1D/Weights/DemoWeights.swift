/// Deterministic stand-in weights with torchvision's names and shapes, for running without a download.
///
/// Their predictions mean nothing, but they tell inputs apart: visually different videos get different top
/// labels, so timelines and segments built on them show where a video changes. Everything that reports the model
/// says "demo" when they are in use.
public enum DemoWeights {
    public static let defaultSeed: UInt64 = 0x5EED_2018

    /// Logits' standard deviation over the calibration regions and classes: top-1 scores mostly between 5% and 60%
    /// on unlike videos, neither a flat softmax nor a one-hot one.
    static let logitSpread: Double = 4

    /// torchvision's initialisation, with BatchNorm statistics and fc fitted to one synthetic calibration clip.
    ///
    /// Convolutions are drawn with the variance of torchvision's `kaiming_normal_(mode: "fan_out")`, from a uniform
    /// distribution (exact on every platform, with no libm); BatchNorm weight 1 and bias 0 as torchvision sets them.
    /// Random running statistics let activations drift layer after layer until one channel pattern, and so one
    /// label, wins for every input; instead each BatchNorm's running mean and variance are those of its
    /// convolution's output over `CalibrationClip`, as a training-mode pass would measure them, so every layer
    /// stays centred and in range. The fc is centred on the calibration clip's mean features and scaled so that its
    /// regions' logits spread by `logitSpread`. About one forward pass of work.
    ///
    /// - Parameters:
    ///   - architecture: the shapes to make (torchvision's by default).
    ///   - seed: the SplitMix64 seed of every random draw.
    /// - Returns: a complete state dict; the same for the same architecture and seed (the calibration runs on BLAS,
    ///   so other CPUs may differ in the last bits of the running statistics).
    public static func make(_ architecture: R2Plus1DArchitecture = .torchvision(), seed: UInt64 = defaultSeed) -> StateDict {
        var random = SplitMix64(seed: seed)
        var dict = StateDict()
        for (name, shape) in architecture.expectedTensors {
            let count = shape.reduce(1, *)
            func uniform(_ bound: Float) -> [Float] { (0..<count).map { _ in random.uniform(-bound, bound) } }
            let values: [Float]
            if name.hasSuffix("running_var") || (shape.count == 1 && name.hasSuffix(".weight")) {
                values = [Float](repeating: 1, count: count)  // set by the calibration, or BatchNorm gamma
            } else if shape.count == 1 {
                values = [Float](repeating: 0, count: count)  // running_mean, BatchNorm beta, fc bias
            } else if shape.count == 2 {
                values = uniform(1)  // fc: rescaled by the calibration
            } else {
                let fanOut = shape[0] * shape.dropFirst(2).reduce(1, *)
                values = uniform((6 / Float(fanOut)).squareRoot())  // std sqrt(2 / fan_out)
            }
            dict[name] = Tensor(shape: shape, data: values)
        }
        calibrate(&dict, architecture)
        return dict
    }

    /// One batch's activations at one point of the network, each clip (C, T, H, W).
    struct Activations {
        var clips: [[Float]]
        var t: Int, h: Int, w: Int
    }

    /// Sets every BatchNorm's running statistics and the fc from a forward pass over the calibration clip.
    static func calibrate(_ dict: inout StateDict, _ architecture: R2Plus1DArchitecture) {
        // As R2Plus1D18.forward runs a single clip: each convolution's frames split over the threads.
        let threads = BLASThreads.current
        var x = CalibrationClip.make()
        x = normalise(R2Plus1DLayout.stemSpatial, x, &dict, parallel: threads)
        x = normalise(R2Plus1DLayout.stemTemporal, x, &dict, parallel: threads)
        for block in architecture.blocks {
            let layout = block.layout
            let residual = block.hasDownsample ? normalise(layout.downsample, x, &dict, relu: false, parallel: threads) : x
            var y = normalise(layout.conv1Spatial, x, &dict, parallel: threads)
            y = normalise(layout.conv1Temporal, y, &dict, parallel: threads)
            y = normalise(layout.conv2Spatial, y, &dict, parallel: threads)
            x = normalise(layout.conv2Temporal, y, &dict, residual: residual, parallel: threads)
        }
        let features = architecture.featureCount
        // Each calibration region (a pattern's quarter of the frame in one half of the clip) pooled on its own.
        let inner = x.t * x.h * x.w
        var pooled: [[Double]] = []
        for clip in x.clips {
            var sums = [[Double]](repeating: [Double](repeating: 0, count: features), count: 8)
            var counts = [Double](repeating: 0, count: 8)
            for t in 0..<x.t {
                for y in 0..<x.h {
                    for w in 0..<x.w {
                        let region = (t * 2 / x.t) * 4 + (y * 2 / x.h) * 2 + (w * 2 / x.w)
                        let offset = (t * x.h + y) * x.w + w
                        counts[region] += 1
                        for c in 0..<features { sums[region][c] += Double(clip[c * inner + offset]) }
                    }
                }
            }
            for r in 0..<8 where counts[r] > 0 { pooled.append(sums[r].map { $0 / counts[r] }) }
        }
        let weight = dict[R2Plus1DLayout.fcWeight]!.data
        let classes = architecture.classes
        let mean = (0..<features).map { c in pooled.reduce(0) { $0 + $1[c] } / Double(pooled.count) }
        // bias = -W mean centres the calibration logits; then one scale for W and bias sets their spread.
        let bias = (0..<classes).map { k in -(0..<features).reduce(0) { $0 + Double(weight[k * features + $1]) * mean[$1] } }
        var sumSquares = 0.0
        for f in pooled {
            for k in 0..<classes {
                let logit = (0..<features).reduce(bias[k]) { $0 + Double(weight[k * features + $1]) * f[$1] }
                sumSquares += logit * logit
            }
        }
        let spread = (sumSquares / Double(pooled.count * classes)).squareRoot()
        let scale = spread > 0 ? logitSpread / spread : 1
        overwrite(&dict, R2Plus1DLayout.fcWeight, with: weight.map { Float(Double($0) * scale) })
        overwrite(&dict, R2Plus1DLayout.fcBias, with: bias.map { Float($0 * scale) })
    }

    /// Writes `values` into the tensor's own storage. A new array kept in the dict, allocated amid the calibration's
    /// large temporary buffers, would pin the heap above them so it could not shrink (15-25 MB of peak RSS).
    static func overwrite(_ dict: inout StateDict, _ name: String, with values: [Float]) {
        dict.tensors[name]!.data.withUnsafeMutableBufferPointer { target in
            for i in values.indices { target[i] = values[i] }
        }
    }

    /// Runs `conv` on every clip, records its output's per-channel mean and variance as its BatchNorm's running
    /// statistics, and returns the output normalised by them, plus `residual`, then ReLU'd if `relu`.
    static func normalise(_ conv: R2Plus1DLayout.Conv, _ x: Activations, _ dict: inout StateDict,
                          residual: Activations? = nil, relu: Bool = true, parallel: Int) -> Activations {
        let weight = dict[conv.weight]!
        let (m, c) = (weight.shape[0], weight.shape[1])
        // im2col and taps: Winograd's transformed weights (up to four times as many values) would be made to run once.
        let op = FoldedConv3d(weight: weight.data, bias: [Float](repeating: 0, count: m), outChannels: m, inChannels: c,
                              geometry: conv.geometry, winograd: false)
        let size = conv.geometry.outputSize(t: x.t, h: x.h, w: x.w)
        // Normalised in place below: the outputs are held only here, so no copy is made.
        var clips = x.clips.map { clip in
            clip.withUnsafeBufferPointer { op.forward($0.baseAddress!, t: x.t, h: x.h, w: x.w, parallel: parallel).data }
        }
        let plane = size.t * size.h * size.w
        let n = Double(clips.count * plane)
        var means = [Float](repeating: 0, count: m), variances = [Float](repeating: 1, count: m)
        for o in 0..<m {
            var sum = 0.0, squares = 0.0
            for clip in clips {
                for v in clip[(o * plane)..<((o + 1) * plane)] {
                    sum += Double(v)
                    squares += Double(v) * Double(v)
                }
            }
            let mean = sum / n
            means[o] = Float(mean)
            variances[o] = Float(max(squares / n - mean * mean, 0))
        }
        overwrite(&dict, conv.batchNorm.runningMean, with: means)
        overwrite(&dict, conv.batchNorm.runningVar, with: variances)
        let scales = variances.map { 1 / ($0 + R2Plus1DArchitecture.batchNormEpsilon).squareRoot() }
        for i in clips.indices {
            clips[i].withUnsafeMutableBufferPointer { y in
                for o in 0..<m {
                    for j in (o * plane)..<((o + 1) * plane) {
                        var v = (y[j] - means[o]) * scales[o]
                        if let residual { v += residual.clips[i][j] }
                        y[j] = relu ? max(v, 0) : v
                    }
                }
            }
        }
        return Activations(clips: clips, t: size.t, h: size.h, w: size.w)
    }
}

/// The demo weights' calibration input: one clip of the service's size, (3, 16, 112, 112), a mosaic of eight
/// unlike synthetic patterns (a gradient, stripes, a checkerboard, noise, flat colour, a moving disc, colour bars,
/// soft blobs), one in each quarter of the frame in each half of the clip, normalised as Kinetics clips are.
///
/// It has the service's size because the statistics depend on it: at a smaller size, zero padding at the borders
/// and the few frames left in layer4 shift every deep layer's statistics alike, and every real clip then lands on
/// the same side of them, with the same label.
enum CalibrationClip {
    static let frames = 16
    static let size = 112
    static let mean: [Float] = [0.43216, 0.394666, 0.37645]
    static let std: [Float] = [0.22803, 0.22145, 0.216989]

    /// A pattern's value in [0, 1] at (channel, frame, y, x), with y and x in [0, 1) across its region.
    typealias Pattern = (_ c: Int, _ t: Float, _ y: Float, _ x: Float) -> Float

    static func make() -> DemoWeights.Activations {
        var noise = SplitMix64(seed: 0xCA11_B8A7E)
        let patterns: [Pattern] = [
            { c, t, y, x in fraction(x + 0.04 * t + 0.3 * Float(c)) * (0.5 + 0.5 * y) },
            { c, t, y, x in wave(6 * x + 2 * y + 0.1 * t + 0.3 * Float(c)) },
            { _, t, y, x in (Int(8 * x + 0.25 * t) + Int(8 * y)) % 2 == 0 ? 0.9 : 0.1 },
            { _, _, _, _ in noise.uniform(0, 1) },
            { c, t, _, _ in [0.8, 0.3, 0.2][c] * (0.9 + 0.01 * t) },
            { c, t, y, x in
                let (dx, dy) = (x - 0.2 - 0.07 * t, y - 0.5)
                return dx * dx + dy * dy < 0.04 ? [1, 0.9, 0.3][c] : 0.15 },
            { c, _, y, x in y > 0.75 ? 0.1 : Float((Int(7 * x) >> (2 - c)) & 1) * 0.75 },
            { c, t, y, x in 0.25 + 0.5 * wave(0.5 * x + 0.3 * y + 0.03 * t + 0.2 * Float(c)) * wave(0.6 * y - 0.2 * x + 0.02 * t) },
        ]
        let (halfFrames, halfSize) = (frames / 2, size / 2)
        let plane = frames * size * size
        var clip = [Float](repeating: 0, count: 3 * plane)
        for c in 0..<3 {
            for t in 0..<frames {
                for y in 0..<size {
                    for x in 0..<size {
                        let pattern = patterns[(t / halfFrames) * 4 + (y / halfSize) * 2 + x / halfSize]
                        let value = pattern(c, Float(t % halfFrames), Float(y % halfSize) / Float(halfSize),
                                            Float(x % halfSize) / Float(halfSize))
                        clip[c * plane + (t * size + y) * size + x] = (value - mean[c]) / std[c]
                    }
                }
            }
        }
        return DemoWeights.Activations(clips: [clip], t: frames, h: size, w: size)
    }

    static func fraction(_ v: Float) -> Float { v - v.rounded(.down) }

    /// A triangle wave from 0 to 1 and back over each unit of `v`: stripes without libm, so the same everywhere.
    static func wave(_ v: Float) -> Float { abs(2 * fraction(v) - 1) }
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
