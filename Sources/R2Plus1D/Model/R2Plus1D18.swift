import Cores
import Dispatch

/// R(2+1)D-18 ready to run: BatchNorm folded into the convolutions, ReLU and the residual add fused into
/// their epilogues, convolutions on BLAS.
public struct R2Plus1D18: Sendable {
    struct Block: Sendable {
        /// torchvision's names of the convolutions below.
        let layout: R2Plus1DLayout.Block
        let conv1Spatial: FoldedConv3d
        let conv1Temporal: FoldedConv3d
        let conv2Spatial: FoldedConv3d
        let conv2Temporal: FoldedConv3d
        let downsample: FoldedConv3d?
    }

    public let architecture: R2Plus1DArchitecture
    let stemSpatial: FoldedConv3d
    let stemTemporal: FoldedConv3d
    let blocks: [Block]
    let fcWeight: [Float]
    let fcBias: [Float]

    /// Folds each BatchNorm into its convolution and lays the weights out for the algorithm each one runs.
    ///
    /// - Parameters:
    ///   - weights: an R(2+1)D-18 state dict, consumed as it is folded.
    ///   - winograd: false runs every convolution by im2col or per-tap GEMMs (the paths without Winograd's
    ///     transforms), to compare against; the results agree within float rounding.
    /// - Throws: `WeightError.missingTensor`, `.shapeMismatch` or `.unexpectedTensor` when the weights are not an
    ///   R(2+1)D-18 state dict.
    ///
    /// Each tensor is dropped from `weights` once folded, so the raw weights and the transformed ones (Winograd
    /// keeps up to 4 times as many values) never all sit in memory together: loading would otherwise be the
    /// process's peak.
    public init(weights: consuming StateDict, winograd: Bool = true) throws {
        var weights = weights
        let arch = try R2Plus1DArchitecture.infer(from: weights)
        architecture = arch
        func folded(_ conv: R2Plus1DLayout.Conv) -> FoldedConv3d {
            Self.fold(&weights, conv, winograd: winograd)
        }
        stemSpatial = folded(R2Plus1DLayout.stemSpatial)
        stemTemporal = folded(R2Plus1DLayout.stemTemporal)
        blocks = arch.blocks.map { b in
            let layout = b.layout
            return Block(
                layout: layout,
                conv1Spatial: folded(layout.conv1Spatial),
                conv1Temporal: folded(layout.conv1Temporal),
                conv2Spatial: folded(layout.conv2Spatial),
                conv2Temporal: folded(layout.conv2Temporal),
                downsample: b.hasDownsample ? folded(layout.downsample) : nil)
        }
        fcWeight = weights[R2Plus1DLayout.fcWeight]!.data
        fcBias = weights[R2Plus1DLayout.fcBias]!.data
    }

    /// conv (no bias) then inference BatchNorm == conv with weight * s and bias beta - mean * s,
    /// s = gamma / sqrt(var + eps); computed in Double so folding adds no error of its own.
    static func fold(_ weights: inout StateDict, _ conv: R2Plus1DLayout.Conv, winograd: Bool = true) -> FoldedConv3d {
        let w = weights.tensors.removeValue(forKey: conv.weight)!
        let bn = conv.batchNorm
        let gamma = weights[bn.weight]!.data, beta = weights[bn.bias]!.data
        let mean = weights[bn.runningMean]!.data, variance = weights[bn.runningVar]!.data
        let (m, c) = (w.shape[0], w.shape[1])
        let perOutput = w.count / m
        var folded = [Float](repeating: 0, count: w.count)
        var bias = [Float](repeating: 0, count: m)
        for o in 0..<m {
            let scale = Double(gamma[o]) / (Double(variance[o]) + Double(R2Plus1DArchitecture.batchNormEpsilon)).squareRoot()
            for i in 0..<perOutput { folded[o * perOutput + i] = Float(Double(w.data[o * perOutput + i]) * scale) }
            bias[o] = Float(Double(beta[o]) - Double(mean[o]) * scale)
        }
        return FoldedConv3d(weight: folded, bias: bias, outChannels: m, inChannels: c, geometry: conv.geometry,
                            winograd: winograd)
    }

    /// Class scores before softmax.
    ///
    /// clips (N, 3, T, H, W) -> logits (N, classes)
    ///
    /// BLAS runs single-threaded and the threads it was given share the work themselves: several clips run side
    /// by side, one per thread; a single clip has each convolution's output frames split over the threads. No
    /// thread then waits at the end of every GEMM for the others, which is what costs most when other work
    /// (decoding) shares the cores. Peak memory is one clip's activations per thread, whatever N is.
    public func forward(_ clips: Tensor) -> Tensor {
        forwardWithFeatures(clips).logits
    }

    /// The forward pass that also returns the pooled features `fc` reads: torchvision's `avgpool` output,
    /// flattened. Retrieval and custom heads are built on these; they cost nothing extra.
    ///
    /// clips (N, 3, T, H, W) -> features (N, 512), logits (N, classes)
    public func forwardWithFeatures(_ clips: Tensor) -> (features: Tensor, logits: Tensor) {
        precondition(clips.shape.count == 5 && clips.shape[1] == architecture.inputChannels,
                     "clips must be (N, \(architecture.inputChannels), T, H, W), got \(clips.shape)")
        let n = clips.shape[0]
        let (t, h, w) = (clips.shape[2], clips.shape[3], clips.shape[4])
        let clipSize = clips.count / max(n, 1)
        let features = featureCount
        let threads = BLASThreads.current
        let pooled = UnsafeMutableBufferPointer<Float>.allocate(capacity: n * features)
        defer { pooled.deallocate() }
        clips.data.withUnsafeBufferPointer { input in
            // Each clip reads its own slice of the input and writes its own row of `pooled`.
            nonisolated(unsafe) let source = input.baseAddress!
            nonisolated(unsafe) let destination = pooled
            let framesParallel = Self.threadsPerClip(clips: n, threads: threads)
            let run: @Sendable (Int) -> Void = { i in
                let f = self.features(source + i * clipSize, t: t, h: h, w: w, parallel: framesParallel)
                for c in 0..<features { destination[i * features + c] = f[c] }
            }
            Cores.forEach(n, workers: threads, run)
        }
        var logits = [Float](repeating: 0, count: n * architecture.classes)
        for i in 0..<n { for c in 0..<architecture.classes { logits[i * architecture.classes + c] = fcBias[c] } }
        do {
            let p = UnsafeBufferPointer(pooled)
            fcWeight.withUnsafeBufferPointer { wp in
                logits.withUnsafeMutableBufferPointer { out in
                    gemmTransposedB(m: n, n: architecture.classes, k: features, a: p.baseAddress!, lda: features,
                                    b: wp.baseAddress!, ldb: features, c: out.baseAddress!, ldc: architecture.classes,
                                    beta: 1)
                }
            }
        }
        return (Tensor(shape: [n, features], data: Array(pooled)), Tensor(shape: [n, architecture.classes], data: logits))
    }

    /// The threads each clip of a batch of `clips` splits its convolutions over: the threads shared evenly among the
    /// clips that run side by side, at most one a thread, so that a batch smaller than the thread count (two clips
    /// on eight cores) still uses every core, as a single clip does. Even shares, each the most threads that take a
    /// clip's tasks (`Cores.forEach`), so a batch never runs more threads than `threads`.
    static func threadsPerClip(clips: Int, threads: Int) -> Int {
        max(1, threads / max(1, min(clips, threads)))
    }

    /// Each convolution's wall time for one clip, named as torchvision's modules are ("stem.0",
    /// "layer1.0.conv1.0.0"), run as `forward` runs a single clip (each convolution split over the BLAS threads);
    /// for profiling against other engines. A convolution's bias, ReLU and residual add are part of its time.
    ///
    /// clip (1, 3, T, H, W) -> (name, milliseconds) in the order the convolutions run
    public func convolutionTimes(_ clip: Tensor) -> [(name: String, milliseconds: Double)] {
        precondition(clip.shape.count == 5 && clip.shape[0] == 1 && clip.shape[1] == architecture.inputChannels,
                     "clip must be (1, \(architecture.inputChannels), T, H, W), got \(clip.shape)")
        let threads = BLASThreads.current
        var times: [(name: String, milliseconds: Double)] = []
        clip.data.withUnsafeBufferPointer { input in
            _ = features(input.baseAddress!, t: clip.shape[2], h: clip.shape[3], w: clip.shape[4], parallel: threads) {
                times.append(($0, $1))
            }
        }
        return times
    }

    var featureCount: Int { architecture.featureCount }

    /// clip (3, T, H, W) -> pooled features (planes of the last stage); each conv's frames split over `parallel` threads.
    /// `record`, if given, gets each convolution's torchvision name and wall time in milliseconds.
    func features(_ clip: UnsafePointer<Float>, t: Int, h: Int, w: Int, parallel p: Int = 1,
                  record: ((String, Double) -> Void)? = nil) -> [Float] {
        func timed<T>(_ name: @autoclosure () -> String, _ body: () -> T) -> T {
            guard let record else { return body() }
            let start = DispatchTime.now().uptimeNanoseconds
            let result = body()
            record(name(), Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            return result
        }
        var x = timed(R2Plus1DLayout.stemSpatial.name) {
            stemSpatial.forward(clip, t: t, h: h, w: w, epilogue: .relu, parallel: p)
        }
        x = timed(R2Plus1DLayout.stemTemporal.name) {
            x.data.withUnsafeBufferPointer { stemTemporal.forward($0.baseAddress!, t: x.t, h: x.h, w: x.w, epilogue: .relu, parallel: p) }
        }
        for block in blocks {
            let names = block.layout
            x = x.data.withUnsafeBufferPointer { input in
                let residual = block.downsample.map { downsample in
                    timed(names.downsample.name) {
                        downsample.forward(input.baseAddress!, t: x.t, h: x.h, w: x.w, parallel: p).data
                    }
                } ?? x.data
                var y = timed(names.conv1Spatial.name) {
                    block.conv1Spatial.forward(input.baseAddress!, t: x.t, h: x.h, w: x.w, epilogue: .relu, parallel: p)
                }
                y = timed(names.conv1Temporal.name) {
                    y.data.withUnsafeBufferPointer { block.conv1Temporal.forward($0.baseAddress!, t: y.t, h: y.h, w: y.w, epilogue: .relu, parallel: p) }
                }
                y = timed(names.conv2Spatial.name) {
                    y.data.withUnsafeBufferPointer { block.conv2Spatial.forward($0.baseAddress!, t: y.t, h: y.h, w: y.w, epilogue: .relu, parallel: p) }
                }
                return timed(names.conv2Temporal.name) {
                    y.data.withUnsafeBufferPointer { mid in
                        residual.withUnsafeBufferPointer { r in
                            block.conv2Temporal.forward(mid.baseAddress!, t: y.t, h: y.h, w: y.w,
                                                        epilogue: .addRelu(residual: r.baseAddress!), parallel: p)
                        }
                    }
                }
            }
        }
        let planes = featureCount
        let inner = x.t * x.h * x.w
        return (0..<planes).map { c in
            var sum: Float = 0
            for i in 0..<inner { sum += x.data[c * inner + i] }
            return sum / Float(inner)
        }
    }
}
