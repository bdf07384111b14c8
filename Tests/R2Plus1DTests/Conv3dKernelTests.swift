@testable import R2Plus1D
import Testing

/// The BLAS convolution against the naive one on awkward shapes: odd sizes, edges, strides, tiles, epilogues.
@Suite struct Conv3dKernelTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var c: Int, m: Int, t: Int, h: Int, w: Int
        var geometry: Conv3dGeometry
        var tileBytes = 4 << 20
        var cacheBytes = FoldedConv3d.defaultCacheBytes
        var streamBytes = FoldedConv3d.defaultStreamBytes
        var winograd = true
        var block: WinogradTile? = nil
        var testDescription: String {
            "C\(c) M\(m) \(t)x\(h)x\(w) \(geometry) tile \(tileBytes) cache \(cacheBytes) stream \(streamBytes) \(algorithm)"
        }

        /// The path the case is meant to run, by the kernel shapes each algorithm serves; every case here is
        /// small enough for F(4,3) unless it names F(2,3).
        var algorithm: FoldedConv3d.Algorithm {
            let g = geometry
            let stride1 = g.stride == (1, 1, 1)
            if g.kernel.t == 1 {
                return winograd && stride1 && g.kernel == (1, 3, 3) && g.padding == (0, 1, 1)
                    ? .spatialWinograd(block ?? .four) : .im2col
            }
            return winograd && stride1 && g.kernel == (3, 1, 1) && g.padding == (1, 0, 0)
                ? .temporalWinograd(block ?? .four) : .temporalTaps
        }
    }

    static let cases: [Case] = [
        Case(c: 3, m: 5, t: 3, h: 9, w: 11, geometry: .init(kernel: (1, 7, 7), stride: (1, 2, 2), padding: (0, 3, 3))),
        // 3x3 stride 1 runs by Winograd F(4,3): odd and even sizes, a frame smaller than one block, and im2col.
        Case(c: 5, m: 7, t: 4, h: 7, w: 5, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1))),
        Case(c: 5, m: 7, t: 4, h: 7, w: 5, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), winograd: false),
        Case(c: 3, m: 4, t: 2, h: 8, w: 6, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1))),
        Case(c: 2, m: 3, t: 3, h: 1, w: 1, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1))),
        // Rows of more than eight blocks (the transforms take eight at a time): F(4,3) with 18 and 16 blocks.
        Case(c: 3, m: 4, t: 2, h: 7, w: 70, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1))),
        Case(c: 2, m: 3, t: 3, h: 4, w: 64, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), tileBytes: 1),
        // F(2,3) (what convolutions with many weights use): odd sizes, one pixel, 19 and 16 blocks a row, tiles.
        Case(c: 5, m: 7, t: 4, h: 7, w: 5, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), block: .two),
        Case(c: 2, m: 3, t: 3, h: 1, w: 1, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), block: .two),
        Case(c: 3, m: 4, t: 2, h: 5, w: 37, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), block: .two),
        Case(c: 2, m: 3, t: 3, h: 4, w: 32, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), tileBytes: 1, block: .two),
        Case(c: 16, m: 9, t: 5, h: 9, w: 11, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), tileBytes: 1),
        Case(c: 4, m: 6, t: 3, h: 9, w: 7, geometry: .init(kernel: (1, 3, 3), stride: (1, 2, 2), padding: (0, 1, 1))),
        // Stride-2 rows long enough for the eight-wide gather, with a tail: 21 and 20 outputs a row.
        Case(c: 3, m: 4, t: 2, h: 5, w: 41, geometry: .init(kernel: (1, 3, 3), stride: (1, 2, 2), padding: (0, 1, 1))),
        Case(c: 2, m: 3, t: 2, h: 8, w: 40, geometry: .init(kernel: (1, 7, 7), stride: (1, 2, 2), padding: (0, 3, 3))),
        // A tile of one frame: four GEMMs whose outputs interleave.
        Case(c: 5, m: 3, t: 4, h: 6, w: 6, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), tileBytes: 1, winograd: false),
        // Two frames per tile over five frames: the last tile is partial.
        Case(c: 2, m: 3, t: 5, h: 4, w: 3, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), tileBytes: 2 * 18 * 12 * 4,
             winograd: false),
        Case(c: 6, m: 4, t: 5, h: 5, w: 3, geometry: .init(kernel: (1, 1, 1), stride: (2, 2, 2))),
        Case(c: 5, m: 7, t: 5, h: 3, w: 4, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0))),
        Case(c: 6, m: 5, t: 7, h: 3, w: 3, geometry: .init(kernel: (3, 1, 1), stride: (2, 1, 1), padding: (1, 0, 0))),
        Case(c: 3, m: 4, t: 1, h: 2, w: 2, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0))),
        // Two or fewer output frames per thread: the GEMMs' rows split over the threads (24 rows: 3 bands), one
        // tile of frames or several.
        Case(c: 6, m: 24, t: 2, h: 5, w: 9, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1))),
        Case(c: 6, m: 24, t: 2, h: 5, w: 9, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), block: .two),
        Case(c: 5, m: 24, t: 3, h: 2, w: 3, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0))),
        Case(c: 5, m: 24, t: 5, h: 2, w: 3, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0)), block: .two),
        Case(c: 4, m: 24, t: 5, h: 3, w: 5, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), tileBytes: 1),
        Case(c: 4, m: 26, t: 6, h: 2, w: 3, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0)), tileBytes: 1, block: .two),
        // The same split for im2col (stride 2, one frame per tile) and direct temporal convs, and a 1x1 stride 2.
        Case(c: 5, m: 24, t: 3, h: 9, w: 20, geometry: .init(kernel: (1, 3, 3), stride: (1, 2, 2), padding: (0, 1, 1))),
        Case(c: 4, m: 17, t: 4, h: 5, w: 7, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), tileBytes: 1,
             winograd: false),
        Case(c: 6, m: 24, t: 5, h: 3, w: 3, geometry: .init(kernel: (3, 1, 1), stride: (2, 1, 1), padding: (1, 0, 0))),
        Case(c: 6, m: 24, t: 4, h: 3, w: 4, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0)), winograd: false),
        Case(c: 6, m: 20, t: 5, h: 5, w: 3, geometry: .init(kernel: (1, 1, 1), stride: (2, 2, 2))),
        // Temporal stride 1 by Winograd along time, F(4,3) unless F(2,3) is named: frame counts that leave a
        // partial last group, groups per tile, direct taps.
        Case(c: 4, m: 6, t: 7, h: 2, w: 3, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0)), tileBytes: 1),
        Case(c: 4, m: 6, t: 8, h: 3, w: 3, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0)), tileBytes: 2 * 4 * 10 * 9 * 4),
        Case(c: 5, m: 7, t: 5, h: 3, w: 4, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0)), winograd: false),
        Case(c: 3, m: 4, t: 2, h: 2, w: 2, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0))),
        Case(c: 4, m: 6, t: 7, h: 2, w: 3, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0)), tileBytes: 1, block: .two),
        Case(c: 3, m: 5, t: 9, h: 3, w: 2, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0)), block: .two),
        Case(c: 3, m: 4, t: 2, h: 2, w: 2, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0)), block: .two),
        Case(c: 3, m: 4, t: 6, h: 2, w: 3, geometry: .init(kernel: (3, 1, 1), stride: (2, 1, 1), padding: (1, 0, 0))),
        // Frames in spans that fit the cache: along time spans of 9, 9, 9 and 8 pixels (35 a frame); in space spans
        // of rows of blocks (96 blocks at least), the last frame row partial, F(4,3) and F(2,3), one thread and a
        // row split.
        Case(c: 4, m: 6, t: 7, h: 5, w: 7, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0)), cacheBytes: 1),
        Case(c: 4, m: 6, t: 7, h: 5, w: 7, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0)), cacheBytes: 1,
             block: .two),
        Case(c: 4, m: 24, t: 2, h: 5, w: 7, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0)), cacheBytes: 1),
        Case(c: 2, m: 3, t: 3, h: 39, w: 64, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), cacheBytes: 1),
        Case(c: 2, m: 3, t: 2, h: 29, w: 31, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), cacheBytes: 1,
             block: .two),
        Case(c: 3, m: 24, t: 2, h: 39, w: 64, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), cacheBytes: 1),
        // Outputs written with non-temporal stores: rows 16-byte aligned (w 8) and not (w 7, 13), F(4,3) and F(2,3),
        // frames in spans, and a row split.
        Case(c: 3, m: 5, t: 3, h: 9, w: 8, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), streamBytes: 0),
        Case(c: 5, m: 7, t: 4, h: 7, w: 13, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), streamBytes: 0),
        Case(c: 3, m: 4, t: 2, h: 5, w: 37, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), streamBytes: 0,
             block: .two),
        Case(c: 2, m: 3, t: 3, h: 39, w: 64, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), cacheBytes: 1,
             streamBytes: 0),
        Case(c: 6, m: 24, t: 2, h: 5, w: 7, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)), streamBytes: 0),
    ]

    /// Of R(2+1)D-18's spatial Winograd convolutions, layer1's stream their outputs (29 MB a clip); layer2's (7 MB)
    /// and deeper ones do not.
    @Test func onlyLayer1StreamsItsOutput() {
        func conv(_ m: Int, _ c: Int) -> FoldedConv3d {
            FoldedConv3d(weight: [Float](repeating: 0, count: m * c * 9), bias: [Float](repeating: 0, count: m),
                         outChannels: m, inChannels: c, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)))
        }
        #expect(conv(144, 64).streamsOutput(t: 16, h: 56, w: 56))
        #expect(!conv(288, 128).streamsOutput(t: 8, h: 28, w: 28))
        #expect(!conv(576, 256).streamsOutput(t: 4, h: 14, w: 14))
        #expect(!conv(1152, 512).streamsOutput(t: 2, h: 7, w: 7))
    }

    /// Streamed stores write the same values as cached ones, bit for bit, with every epilogue, one thread or three.
    @Test(arguments: [WinogradTile.four, .two])
    func streamedOutputIsIdentical(_ tile: WinogradTile) {
        let (c, m, t, h, w) = (4, 9, 3, 11, 13)
        let geometry = Conv3dGeometry(kernel: (1, 3, 3), padding: (0, 1, 1))
        let weight = Tensor.random(shape: [m, c, 1, 3, 3], seed: 5).data
        let bias = Tensor.random(shape: [m], seed: 6).data
        func conv(streamBytes: Int) -> FoldedConv3d {
            FoldedConv3d(weight: weight, bias: bias, outChannels: m, inChannels: c, geometry: geometry,
                         streamBytes: streamBytes, winogradTile: tile)
        }
        let streamed = conv(streamBytes: 0), cached = conv(streamBytes: .max)
        #expect(streamed.streamsOutput(t: t, h: h, w: w) && !cached.streamsOutput(t: t, h: h, w: w))
        let input = Tensor.random(shape: [c, t, h, w], seed: 7).data
        let residual = Tensor.random(shape: [m, t, h, w], seed: 8).data
        input.withUnsafeBufferPointer { x in
            residual.withUnsafeBufferPointer { r in
                for epilogue in [FoldedConv3d.Epilogue.identity, .relu, .addRelu(residual: r.baseAddress!)] {
                    for parallel in [1, 3] {
                        let a = streamed.forward(x.baseAddress!, t: t, h: h, w: w, epilogue: epilogue, parallel: parallel)
                        let b = cached.forward(x.baseAddress!, t: t, h: h, w: w, epilogue: epilogue, parallel: parallel)
                        #expect(a.data == b.data)
                    }
                }
            }
        }
    }

    /// The cases above that split frames into spans do split them, and in the spans they name.
    @Test func spansSplitTheFrames() {
        func conv(_ c: Int, _ m: Int, _ geometry: Conv3dGeometry, _ tile: WinogradTile) -> FoldedConv3d {
            let count = m * c * geometry.kernel.t * geometry.kernel.h * geometry.kernel.w
            return FoldedConv3d(weight: [Float](repeating: 0, count: count), bias: [Float](repeating: 0, count: m),
                                outChannels: m, inChannels: c, geometry: geometry, cacheBytes: 1, winogradTile: tile)
        }
        let time = Conv3dGeometry(kernel: (3, 1, 1), padding: (1, 0, 0))
        let space = Conv3dGeometry(kernel: (1, 3, 3), padding: (0, 1, 1))
        #expect(conv(4, 6, time, .four).temporalSpan(hw: 35, tile: .four) == 9)
        #expect(conv(4, 24, time, .four).temporalSpan(hw: 35, tile: .four) == 12)
        // 10 rows of 16 blocks in spans of 6 rows at least: two of 5.
        #expect(conv(2, 3, space, .four).winogradSpanRows(h: 39, w: 64, tile: .four) == 5)
        // 15 rows of 16 blocks: three of 5.
        #expect(conv(2, 3, space, .two).winogradSpanRows(h: 29, w: 31, tile: .two) == 5)
        // layer1's spatial convolution at 56x56 (14 rows of 14 blocks): two spans of 7 rows; layer2's whole.
        let layer1 = FoldedConv3d(weight: [Float](repeating: 0, count: 144 * 64 * 9), bias: [Float](repeating: 0, count: 144),
                                  outChannels: 144, inChannels: 64, geometry: space)
        #expect(layer1.winogradSpanRows(h: 56, w: 56, tile: .four) == 7)
        #expect(layer1.winogradSpanRows(h: 28, w: 28, tile: .four) == 7)
    }

    @Test(arguments: cases)
    func matchesNaiveConvolution(_ k: Case) {
        let g = k.geometry
        let weight = Tensor.random(shape: [k.m, k.c, g.kernel.t, g.kernel.h, g.kernel.w], seed: 1)
        let bias = Tensor.random(shape: [k.m], seed: 2).data
        let conv = FoldedConv3d(weight: weight.data, bias: bias, outChannels: k.m, inChannels: k.c, geometry: g,
                                tileBytes: k.tileBytes, cacheBytes: k.cacheBytes, streamBytes: k.streamBytes,
                                winograd: k.winograd,
                                winogradTile: k.block)
        #expect(conv.algorithm == k.algorithm)
        let batch = 2
        let input = Tensor.random(shape: [batch, k.c, k.t, k.h, k.w], seed: 3)
        let expected = NaiveOps.conv3d(input, weight: weight, bias: bias, geometry: g)
        let outShape = Array(expected.shape.dropFirst())
        let residual = Tensor.random(shape: outShape, seed: 4)
        let clipSize = input.count / batch, outSize = expected.count / batch
        for n in 0..<batch {
            let clip = Array(input.data[n * clipSize..<(n + 1) * clipSize])
            let want = Tensor(shape: outShape, data: Array(expected.data[n * outSize..<(n + 1) * outSize]))
            // Output frames split over 1 and 3 threads (as a single clip runs) give the same answer.
            for parallel in [1, 3] {
            clip.withUnsafeBufferPointer { x in
                residual.data.withUnsafeBufferPointer { r in
                    let plain = conv.forward(x.baseAddress!, t: k.t, h: k.h, w: k.w, parallel: parallel)
                    #expect([k.m, plain.t, plain.h, plain.w] == outShape)
                    #expect(Tensor(shape: outShape, data: plain.data).maxAbsDifference(want) <= 1e-4)
                    let relu = conv.forward(x.baseAddress!, t: k.t, h: k.h, w: k.w, epilogue: .relu, parallel: parallel)
                    #expect(Tensor(shape: outShape, data: relu.data).maxAbsDifference(NaiveOps.relu(want)) <= 1e-4)
                    let added = conv.forward(x.baseAddress!, t: k.t, h: k.h, w: k.w,
                                             epilogue: .addRelu(residual: r.baseAddress!), parallel: parallel)
                    let wantAdded = NaiveOps.relu(NaiveOps.add(want, residual))
                    #expect(Tensor(shape: outShape, data: added.data).maxAbsDifference(wantAdded) <= 1e-4)
                }
            }
            }
        }
    }

    struct Layer: CustomTestStringConvertible, Sendable {
        var name: String, m: Int, c: Int
        var geometry: Conv3dGeometry
        var expected: FoldedConv3d.Algorithm
        var testDescription: String { name }
    }

    /// One of each kind of convolution in torchvision's r2plus1d_18, with its channels, and the algorithm it runs.
    static let layers: [Layer] = [
        Layer(name: "stem.0", m: 45, c: 3, geometry: .init(kernel: (1, 7, 7), stride: (1, 2, 2), padding: (0, 3, 3)),
              expected: .im2col),
        Layer(name: "stem.3", m: 64, c: 45, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0)),
              expected: .temporalWinograd(.four)),
        Layer(name: "layer1.0.conv1.0.0", m: 144, c: 64, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)),
              expected: .spatialWinograd(.four)),
        Layer(name: "layer1.0.conv1.0.3", m: 64, c: 144, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0)),
              expected: .temporalWinograd(.four)),
        Layer(name: "layer2.0.conv1.0.0", m: 230, c: 64, geometry: .init(kernel: (1, 3, 3), stride: (1, 2, 2), padding: (0, 1, 1)),
              expected: .im2col),
        Layer(name: "layer2.0.conv1.0.3", m: 128, c: 230, geometry: .init(kernel: (3, 1, 1), stride: (2, 1, 1), padding: (1, 0, 0)),
              expected: .temporalTaps),
        Layer(name: "layer2.0.downsample.0", m: 128, c: 64, geometry: .init(kernel: (1, 1, 1), stride: (2, 2, 2)),
              expected: .im2col),
        Layer(name: "layer2.1.conv1.0.3", m: 128, c: 288, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0)),
              expected: .temporalWinograd(.four)),
        Layer(name: "layer3.1.conv1.0.0", m: 576, c: 256, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)),
              expected: .spatialWinograd(.four)),
        Layer(name: "layer3.1.conv1.0.3", m: 256, c: 576, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0)),
              expected: .temporalWinograd(.two)),
        Layer(name: "layer4.1.conv1.0.0", m: 1152, c: 512, geometry: .init(kernel: (1, 3, 3), padding: (0, 1, 1)),
              expected: .spatialWinograd(.two)),
        Layer(name: "layer4.1.conv1.0.3", m: 512, c: 1152, geometry: .init(kernel: (3, 1, 1), padding: (1, 0, 0)),
              expected: .temporalWinograd(.two)),
    ]

    @Test(arguments: layers)
    func algorithmFollowsTheGeometry(_ layer: Layer) {
        let (g, m, c) = (layer.geometry, layer.m, layer.c)
        #expect(FoldedConv3d.Algorithm(geometry: g, outChannels: m, inChannels: c) == layer.expected)
        // Without Winograd, the reference paths: im2col in space, one GEMM per tap in time.
        #expect(FoldedConv3d.Algorithm(geometry: g, outChannels: m, inChannels: c, winograd: false)
            == (g.kernel.t == 1 ? .im2col : .temporalTaps))
        // A named block size wins over the one chosen by weight count.
        switch layer.expected {
        case .spatialWinograd:
            #expect(FoldedConv3d.Algorithm(geometry: g, outChannels: m, inChannels: c, tile: .two) == .spatialWinograd(.two))
        case .temporalWinograd:
            #expect(FoldedConv3d.Algorithm(geometry: g, outChannels: m, inChannels: c, tile: .two) == .temporalWinograd(.two))
        case .im2col, .temporalTaps:
            #expect(FoldedConv3d.Algorithm(geometry: g, outChannels: m, inChannels: c, tile: .two) == layer.expected)
        }
    }

    /// `R2Plus1D18(weights:winograd:)` reaches every convolution of the network.
    @Test func winogradOptionReachesEveryConvolution() throws {
        let weights = try WeightFile.read(path: Fixtures.path("tiny_r2plus1d.safetensors"))
        func algorithms(_ model: R2Plus1D18) -> [FoldedConv3d.Algorithm] {
            let convs = [model.stemSpatial, model.stemTemporal] + model.blocks.flatMap { b in
                [b.conv1Spatial, b.conv1Temporal, b.conv2Spatial, b.conv2Temporal] + (b.downsample.map { [$0] } ?? [])
            }
            return convs.map(\.algorithm)
        }
        let plain = algorithms(try R2Plus1D18(weights: weights, winograd: false))
        #expect(plain.count == 2 + 8 * 4 + 3)
        #expect(plain.allSatisfy { $0 == .im2col || $0 == .temporalTaps })
        let fast = algorithms(try R2Plus1D18(weights: weights))
        #expect(fast.contains(.spatialWinograd(.four)) && fast.contains(.temporalWinograd(.four)))
    }

    @Test func largeConvolutionsKeepTheSmallerWinogradBlock() {
        // F(4,3) keeps 36 values per 3x3 kernel: layer4's convolutions (17 M weights) take F(2,3)'s 16.
        #expect(WinogradTile.choose(outChannels: 144, inChannels: 64) == .four)
        #expect(WinogradTile.choose(outChannels: 576, inChannels: 256) == .four)
        #expect(WinogradTile.choose(outChannels: 921, inChannels: 256) == .two)
        #expect(WinogradTile.choose(outChannels: 1152, inChannels: 512) == .two)
        // Along time F(4,3) needs four frames per thread to pay: the stem, layer1 and layer2 (8 to 16 frames).
        #expect(FoldedConv3d.temporalTile(outChannels: 128, inChannels: 288) == .four)
        #expect(FoldedConv3d.temporalTile(outChannels: 256, inChannels: 460) == .two)
    }

    @Test func frameTasksStayInsideATileAndKeepWholeGroups() {
        func conv(_ m: Int, _ c: Int, _ g: Conv3dGeometry, tile: WinogradTile? = nil) -> FoldedConv3d {
            FoldedConv3d(weight: [Float](repeating: 0, count: m * c * g.kernel.t * g.kernel.h * g.kernel.w),
                         bias: [Float](repeating: 0, count: m), outChannels: m, inChannels: c, geometry: g,
                         winogradTile: tile)
        }
        let spatial = Conv3dGeometry(kernel: (1, 3, 3), padding: (0, 1, 1))
        let temporal = Conv3dGeometry(kernel: (3, 1, 1), padding: (1, 0, 0))
        // layer1, one clip on two threads: one frame per task (its Winograd tile), four-frame groups along time.
        let layer1 = conv(144, 64, spatial)
        #expect(layer1.algorithm == .spatialWinograd(.four))
        #expect(layer1.framesPerTask(h: 56, w: 56, outputFrames: 16, threads: 2)
            == layer1.winogradFramesPerTile(h: 56, w: 56, tile: .four))
        #expect(conv(64, 144, temporal).framesPerTask(h: 56, w: 56, outputFrames: 16, threads: 2) == 4)
        // layer2: two frames per task, so each thread gets two of the eight.
        #expect(conv(288, 128, spatial).framesPerTask(h: 28, w: 28, outputFrames: 8, threads: 2) == 2)
        // The strided spatial conv by im2col: at most one buffer of columns.
        let strided = conv(230, 64, Conv3dGeometry(kernel: (1, 3, 3), stride: (1, 2, 2), padding: (0, 1, 1)))
        #expect(strided.algorithm == .im2col)
        #expect(strided.framesPerTask(h: 56, w: 56, outputFrames: 16, threads: 2)
            == min(4, strided.im2colFramesPerTile(outH: 28, outW: 28)))
        // Along time, whole groups even when a thread's share is one frame.
        #expect(conv(6, 4, temporal, tile: .two).framesPerTask(h: 3, w: 3, outputFrames: 5, threads: 3) == 2)
        #expect(conv(6, 4, temporal, tile: .four).framesPerTask(h: 3, w: 3, outputFrames: 5, threads: 3) == 4)
    }

    @Test func foldedBatchNormMatchesConvThenBatchNorm() throws {
        var dict = StateDict()
        dict["c.weight"] = Tensor.random(shape: [4, 3, 1, 3, 3], seed: 5)
        dict["b.weight"] = Tensor(shape: [4], data: [0.5, 1.5, 2, 0.9])
        dict["b.bias"] = Tensor(shape: [4], data: [0.1, -0.2, 0.3, 0])
        dict["b.running_mean"] = Tensor(shape: [4], data: [0.05, -0.1, 0.2, 1])
        dict["b.running_var"] = Tensor(shape: [4], data: [0.6, 1.2, 0.9, 2])
        let g = Conv3dGeometry(kernel: (1, 3, 3), padding: (0, 1, 1))
        var consumed = dict
        let conv = R2Plus1D18.fold(&consumed, R2Plus1DLayout.Conv("c", batchNorm: "b", geometry: g))
        #expect(consumed["c.weight"] == nil)
        let x = Tensor.random(shape: [1, 3, 2, 5, 5], seed: 6)
        let want = NaiveOps.batchNorm(NaiveOps.conv3d(x, weight: dict["c.weight"]!, geometry: g),
                                      gamma: dict["b.weight"]!.data, beta: dict["b.bias"]!.data,
                                      mean: dict["b.running_mean"]!.data, variance: dict["b.running_var"]!.data)
        let got = x.data.withUnsafeBufferPointer { conv.forward($0.baseAddress!, t: 2, h: 5, w: 5) }
        #expect(Tensor(shape: want.shape, data: got.data).maxAbsDifference(want) <= 1e-5)
    }
}
