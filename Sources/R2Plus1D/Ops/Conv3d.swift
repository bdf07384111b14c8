import Cores

/// A 3-D convolution with BatchNorm already folded into its weight and bias, run on BLAS.
///
/// Two shapes of kernel are supported, the two that R(2+1)D is made of, each by one of two algorithms
/// (`Algorithm`):
/// - spatial, kernel (1, kh, kw): 3x3 stride 1 by Winograd F(4,3) or F(2,3) (Conv3d+Winograd.swift); the others by an
///   im2col buffer of a group of output frames only (never the whole clip) and one GEMM;
/// - temporal, kernel (kt, 1, 1): no im2col at all; each temporal tap is a GEMM over an offset view of the
///   input frames, accumulated into the output; stride 1 by Winograd F(4,3) or F(2,3) along time
///   (Conv3d+TemporalWinograd.swift).
struct FoldedConv3d: Sendable {
    /// How the convolution is computed, chosen once from its geometry when it is made.
    enum Algorithm: Sendable, Equatable {
        /// Spatial (1, kh, kw), any stride (the (1,1,1) stride-2 downsample too): im2col per tile of frames, then
        /// one GEMM.
        case im2col
        /// Spatial (1, 3, 3) stride 1 padding (0, 1, 1): Winograd over 2-D blocks (Conv3d+Winograd.swift).
        case spatialWinograd(WinogradTile)
        /// Temporal (kt, 1, 1), any temporal stride and padding: one GEMM per tap, accumulated.
        case temporalTaps
        /// Temporal (3, 1, 1) stride 1 padding (1, 0, 0): Winograd along time (Conv3d+TemporalWinograd.swift).
        case temporalWinograd(WinogradTile)

        /// - Parameters:
        ///   - winograd: use Winograd where the geometry allows it (false: im2col or taps, the reference paths).
        ///   - tile: F(2,3) or F(4,3) for Winograd (nil: by the weight count, `WinogradTile.choose` in space and
        ///     `FoldedConv3d.temporalTile` in time).
        init(geometry g: Conv3dGeometry, outChannels m: Int, inChannels c: Int, winograd: Bool = true,
             tile: WinogradTile? = nil) {
            if g.kernel.t == 1 {
                precondition(g.padding.t == 0, "a spatial conv pads no frames")
                self = winograd && FoldedConv3d.usesWinograd(g)
                    ? .spatialWinograd(tile ?? WinogradTile.choose(outChannels: m, inChannels: c)) : .im2col
            } else {
                precondition(g.kernel.h == 1 && g.kernel.w == 1 && g.stride.h == 1 && g.stride.w == 1
                    && g.padding.h == 0 && g.padding.w == 0, "only (kt,1,1) temporal kernels are supported")
                self = winograd && FoldedConv3d.usesTemporalWinograd(g)
                    ? .temporalWinograd(tile ?? FoldedConv3d.temporalTile(outChannels: m, inChannels: c)) : .temporalTaps
            }
        }
    }

    let outChannels: Int
    let inChannels: Int
    let geometry: Conv3dGeometry
    let algorithm: Algorithm
    /// By `algorithm`: im2col [M][C * kh * kw]; spatial Winograd 16 or 36 [M][C] matrices; temporal taps one
    /// [M][C] matrix per tap, taps outermost; temporal Winograd 4 or 6 [M][C] matrices.
    let weight: [Float]
    let bias: [Float]
    /// Bytes of im2col buffer per tile of frames (at least one frame): big enough for efficient GEMMs, small
    /// enough that the buffer never grows with the clip.
    let tileBytes: Int
    /// Bytes of transformed input and products per span that Winograd keeps within one core's cache.
    let cacheBytes: Int
    /// Spatial Winograd outputs of at least this many bytes a clip are written with non-temporal stores.
    let streamBytes: Int

    /// - Parameters:
    ///   - weight: PyTorch layout [M, C, kt, kh, kw].
    ///   - bias: [M].
    ///   - streamBytes: see `defaultStreamBytes`.
    ///   - winograd: use Winograd where the geometry allows it (false: im2col and taps, the reference paths).
    ///   - winogradTile: F(2,3) or F(4,3) (nil: by the weight count).
    init(weight: [Float], bias: [Float], outChannels: Int, inChannels: Int, geometry: Conv3dGeometry,
         tileBytes: Int = 4 << 20, cacheBytes: Int = FoldedConv3d.defaultCacheBytes,
         streamBytes: Int = FoldedConv3d.defaultStreamBytes, winograd: Bool = true, winogradTile: WinogradTile? = nil) {
        precondition(weight.count == outChannels * inChannels * geometry.kernel.t * geometry.kernel.h * geometry.kernel.w)
        precondition(bias.count == outChannels)
        self.outChannels = outChannels
        self.inChannels = inChannels
        self.geometry = geometry
        self.bias = bias
        self.tileBytes = tileBytes
        self.cacheBytes = cacheBytes
        self.streamBytes = streamBytes
        algorithm = Algorithm(geometry: geometry, outChannels: outChannels, inChannels: inChannels, winograd: winograd,
                              tile: winogradTile)
        switch algorithm {
        case .im2col:
            self.weight = weight
        case .spatialWinograd(let tile):
            self.weight = Self.winogradWeights(weight, outChannels: outChannels, inChannels: inChannels, tile: tile)
        case .temporalTaps:
            let kt = geometry.kernel.t
            var taps = [Float](repeating: 0, count: weight.count)
            for m in 0..<outChannels {
                for c in 0..<inChannels {
                    for k in 0..<kt {
                        taps[(k * outChannels + m) * inChannels + c] = weight[(m * inChannels + c) * kt + k]
                    }
                }
            }
            self.weight = taps
        case .temporalWinograd(let tile):
            self.weight = Self.temporalWinogradWeights(weight, outChannels: outChannels, inChannels: inChannels, tile: tile)
        }
    }

    /// About one core's L2 (1-2 MB on the CPUs measured): spans of 0.5, 1 and 2 MB ran layer1's temporal
    /// convolutions equally fast, 10-16% faster than whole frames.
    static let defaultCacheBytes = 1 << 20

    /// An output this large (layer1's spatial convolutions write 29 MB a clip) leaves the caches before the next
    /// convolution reads it; written past them, it costs no read of each line first. On a Zen 4 host that took
    /// layer1's output transforms from 7.7-9.6 to 4.8-5.0 ms a convolution; streaming layer3's and layer4's outputs,
    /// which the next convolution finds in cache, slowed those convolutions by 13-45%, and layer2's 7 MB gained nothing.
    static let defaultStreamBytes = 16 << 20

    /// Runs the convolution on one clip.
    ///
    /// input (C, T, H, W) -> output (M, T', H', W')
    /// - Parameter parallel: threads to split the output frames (or, for few frames, Winograd's GEMM rows) over,
    ///   each with its own scratch buffers; BLAS should then be single-threaded.
    /// - Returns: the output and its (T', H', W').
    func forward(_ input: UnsafePointer<Float>, t: Int, h: Int, w: Int, epilogue: Epilogue = .identity, parallel: Int = 1)
        -> (data: [Float], t: Int, h: Int, w: Int)
    {
        let size = geometry.outputSize(t: t, h: h, w: w)
        let count = outChannels * size.t * size.h * size.w
        let output = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            nonisolated(unsafe) let out = buffer.baseAddress!
            // Two or fewer output frames per thread (a single clip's layer3 and layer4): every thread would pack
            // the whole, large weight matrices for narrow GEMMs of its own frames. The GEMMs' rows (output
            // channels), and the transforms, are then split over the threads instead of the frames.
            let splitRows = parallel > 1 && size.t <= 2 * parallel
            let rowParts = splitRows ? parallel : 1
            // Otherwise the frames go in tasks of at most one of the kernel's tiles, at least two per thread,
            // claimed by whichever thread is free, so a thread slowed by other work on its core (decoding) does
            // not leave the others waiting at the end, as one fixed half per thread would.
            let unit = splitRows || parallel == 1 ? size.t : framesPerTask(h: h, w: w, outputFrames: size.t, threads: parallel)
            let tasks = (size.t + unit - 1) / unit
            // No more threads than `parallel` take them: libdispatch alone would run as many as the machine has cores.
            Cores.forEach(tasks, workers: parallel) { task in
                let frames = (task * unit)..<min(size.t, (task + 1) * unit)
                switch algorithm {
                case .im2col:
                    spatialForward(input, t: t, h: h, w: w, output: out, size: size, frames: frames, epilogue: epilogue,
                                   rowParts: rowParts)
                case .spatialWinograd(let tile):
                    winogradForward(input, t: t, h: h, w: w, output: out, frames: frames, tile: tile, epilogue: epilogue,
                                    rowParts: rowParts)
                case .temporalTaps:
                    inRowBands(rowParts) { rows in
                        temporalForward(input, t: t, hw: h * w, output: out, outT: size.t, frames: frames, rows: rows,
                                        epilogue: epilogue)
                    }
                case .temporalWinograd(let tile):
                    temporalWinogradForward(input, t: t, hw: h * w, output: out, frames: frames, tile: tile,
                                            epilogue: epilogue, rowParts: rowParts)
                }
            }
            initialized = count
        }
        return (output, size.t, size.h, size.w)
    }

    /// Runs `body` on bands of output channels side by side, one band unless `rowParts` > 1 (a row split, at
    /// most one band per eight channels). A band takes its rows of every GEMM and then those channels'
    /// epilogue (and Winograd output transforms), with no wait in between.
    func inRowBands(_ rowParts: Int, _ body: (Range<Int>) -> Void) {
        let m = outChannels
        let bands = max(1, min(rowParts, m / 8))
        parallelFor(bands, parts: bands) { band in body((m * band / bands)..<(m * (band + 1) / bands)) }
    }

    /// Output frames per task of a frame split over `threads`: one tile of the kernel at most (so that tasks
    /// cost no GEMM width), and few enough that every thread gets two or more; whole groups for temporal Winograd.
    func framesPerTask(h: Int, w: Int, outputFrames: Int, threads: Int) -> Int {
        let share = (outputFrames + 2 * threads - 1) / (2 * threads)
        switch algorithm {
        case .im2col:
            let size = geometry.outputSize(t: outputFrames, h: h, w: w)
            return max(1, min(im2colFramesPerTile(outH: size.h, outW: size.w), share))
        case .spatialWinograd(let tile):
            return max(1, min(winogradFramesPerTile(h: h, w: w, tile: tile), share))
        case .temporalTaps:
            return max(1, share)
        case .temporalWinograd(let tile):
            let r = tile.output
            let groups = (share + r - 1) / r
            return r * max(1, min(temporalGroupsPerTile(hw: h * w, tile: tile), groups))
        }
    }

    /// Output frames per im2col buffer: `tileBytes` of columns, at least one frame.
    func im2colFramesPerTile(outH: Int, outW: Int) -> Int {
        max(1, tileBytes / (inChannels * geometry.kernel.h * geometry.kernel.w * outH * outW * MemoryLayout<Float>.size))
    }

    // input (C, T, H, W), weight (M, C, 1, kh, kw) -> output (M, T', H', W')
    private func spatialForward(
        _ input: UnsafePointer<Float>, t: Int, h: Int, w: Int,
        output: UnsafeMutablePointer<Float>, size: (t: Int, h: Int, w: Int), frames range: Range<Int>, epilogue: Epilogue,
        rowParts: Int
    ) {
        let g = geometry
        let k = inChannels * g.kernel.h * g.kernel.w
        let planeOut = size.h * size.w
        let framesPerTile = min(range.count, im2colFramesPerTile(outH: size.h, outW: size.w))
        let columns = UnsafeMutablePointer<Float>.allocate(capacity: k * framesPerTile * planeOut)
        defer { columns.deallocate() }
        var t0 = range.lowerBound
        while t0 < range.upperBound {
            let frames = min(framesPerTile, range.upperBound - t0)
            let n = frames * planeOut
            let frameStart = t0
            // With a row split, the threads share the im2col by input channels.
            parallelRanges(inChannels, parts: rowParts) { channels in
                for f in 0..<frames {
                    let source = input + ((frameStart + f) * g.stride.t) * h * w
                    im2colFrame(source, t: t, h: h, w: w, outH: size.h, outW: size.w,
                                columns: columns + f * planeOut, ldc: n, channels: channels)
                }
            }
            nonisolated(unsafe) let tile = output + t0 * planeOut
            let ldc = size.t * planeOut
            weight.withUnsafeBufferPointer { wp in
                nonisolated(unsafe) let wp = wp.baseAddress!
                inRowBands(rowParts) { rows in
                    gemm(m: rows.count, n: n, k: k, a: wp + rows.lowerBound * k, lda: k, b: columns, ldb: n,
                         c: tile + rows.lowerBound * ldc, ldc: ldc, beta: 0)
                    applyEpilogue(tile, rows: rows, columns: n, ld: ldc, offset: frameStart * planeOut, epilogue: epilogue)
                }
            }
            t0 += frames
        }
    }

    /// Writes one frame's patches for input channels `channels`: row (c, i, j), column (oh, ow), rows `ldc` apart.
    private func im2colFrame(
        _ frame: UnsafePointer<Float>, t: Int, h: Int, w: Int, outH: Int, outW: Int,
        columns: UnsafeMutablePointer<Float>, ldc: Int, channels: Range<Int>
    ) {
        let g = geometry
        let channelStride = t * h * w
        var row = channels.lowerBound * g.kernel.h * g.kernel.w
        for c in channels {
            let plane = frame + c * channelStride
            for i in 0..<g.kernel.h {
                for j in 0..<g.kernel.w {
                    let dst = columns + row * ldc
                    row += 1
                    // Output columns whose input column lies inside the frame.
                    let owLo = max(0, (g.padding.w - j + g.stride.w - 1) / g.stride.w)
                    let owHi = min(outW, (w - 1 + g.padding.w - j) / g.stride.w + 1)
                    for oh in 0..<outH {
                        let ih = oh * g.stride.h - g.padding.h + i
                        let line = dst + oh * outW
                        if ih < 0 || ih >= h || owLo >= owHi {
                            line.update(repeating: 0, count: outW)
                            continue
                        }
                        let src = plane + ih * w - g.padding.w + j
                        if owLo > 0 { line.update(repeating: 0, count: owLo) }
                        if g.stride.w == 1 {
                            (line + owLo).update(from: src + owLo, count: owHi - owLo)
                        } else if g.stride.w == 2 {
                            Self.gatherEven(src, into: line, from: owLo, to: owHi)
                        } else {
                            for ow in owLo..<owHi { line[ow] = src[ow * g.stride.w] }
                        }
                        if owHi < outW { (line + owHi).update(repeating: 0, count: outW - owHi) }
                    }
                }
            }
        }
    }

    /// line[i] = source[2i] for i in lo..<hi, eight at a time, because the compiler leaves a strided scalar gather
    /// unvectorised (the stride-2 convolutions' im2col rows: the stem's and each stage's first spatial conv).
    /// Reads no further than source[2(hi - 1)].
    @inline(__always)
    private static func gatherEven(_ source: UnsafePointer<Float>, into line: UnsafeMutablePointer<Float>,
                                   from lo: Int, to hi: Int) {
        var i = lo
        let raw = UnsafeRawPointer(source)
        while i + 8 < hi {
            let pairs = raw.loadUnaligned(fromByteOffset: 8 * i, as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(line + i).storeBytes(of: pairs.evenHalf, as: SIMD8<Float>.self)
            i += 8
        }
        while i < hi {
            line[i] = source[2 * i]
            i += 1
        }
    }

    // input (C, T, H, W), weight (M, C, kt, 1, 1) -> output (M, T', H, W), output channels `rows`
    private func temporalForward(
        _ input: UnsafePointer<Float>, t: Int, hw: Int,
        output: UnsafeMutablePointer<Float>, outT: Int, frames range: Range<Int>, rows: Range<Int>, epilogue: Epilogue
    ) {
        let g = geometry
        let plane = outT * hw
        let span = range.count * hw
        // Start from bias (and the residual), then accumulate every tap with beta = 1.
        bias.withUnsafeBufferPointer { b in
            for m in rows {
                let row = output + m * plane + range.lowerBound * hw
                if case .addRelu(let residual) = epilogue {
                    let r = residual + m * plane + range.lowerBound * hw
                    let value = b[m]
                    for i in 0..<span { row[i] = r[i] + value }
                } else {
                    row.update(repeating: b[m], count: span)
                }
            }
        }
        weight.withUnsafeBufferPointer { wp in
            for tap in 0..<g.kernel.t {
                let a = wp.baseAddress! + (tap * outChannels + rows.lowerBound) * inChannels
                if g.stride.t == 1 {
                    // Output frames whose input frame (to - pad + tap) exists form one run: one GEMM.
                    let lo = max(range.lowerBound, g.padding.t - tap)
                    let hi = min(range.upperBound, t + g.padding.t - tap)
                    guard hi > lo else { continue }
                    gemm(m: rows.count, n: (hi - lo) * hw, k: inChannels, a: a, lda: inChannels,
                         b: input + (lo - g.padding.t + tap) * hw, ldb: t * hw,
                         c: output + rows.lowerBound * plane + lo * hw, ldc: plane, beta: 1)
                } else {
                    for to in range {
                        let ti = to * g.stride.t - g.padding.t + tap
                        guard ti >= 0 && ti < t else { continue }
                        gemm(m: rows.count, n: hw, k: inChannels, a: a, lda: inChannels,
                             b: input + ti * hw, ldb: t * hw, c: output + rows.lowerBound * plane + to * hw, ldc: plane,
                             beta: 1)
                    }
                }
            }
        }
        if case .identity = epilogue { return }
        for m in rows {
            let row = output + m * plane + range.lowerBound * hw
            for i in 0..<span { row[i] = max(row[i], 0) }
        }
    }

    /// Bias, then the epilogue, over rows `rows` (output channels) of a block whose rows are `ld` apart.
    /// `offset` is where the block starts inside a row of the full output (to find the residual).
    private func applyEpilogue(
        _ block: UnsafeMutablePointer<Float>, rows: Range<Int>, columns: Int, ld: Int, offset: Int,
        epilogue: Epilogue
    ) {
        bias.withUnsafeBufferPointer { b in
            for m in rows {
                epilogue.apply(block + m * ld, into: block + m * ld, count: columns, bias: b[m], residualOffset: m * ld + offset)
            }
        }
    }
}
