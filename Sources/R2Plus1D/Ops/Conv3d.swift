/// A 3-D convolution with BatchNorm already folded into its weight and bias, run on BLAS.
///
/// Two shapes of kernel are supported, the two that R(2+1)D is made of:
/// - spatial, kernel (1, kh, kw): 3x3 stride 1 by Winograd F(4,3) or F(2,3) (Conv3d+Winograd.swift); the others by an
///   im2col buffer of a group of output frames only (never the whole clip) and one GEMM;
/// - temporal, kernel (kt, 1, 1): no im2col at all; each temporal tap is a GEMM over an offset view of the
///   input frames, accumulated into the output; stride 1 by Winograd F(4,3) or F(2,3) along time
///   (Conv3d+TemporalWinograd.swift).
struct FoldedConv3d: Sendable {
    let outChannels: Int
    let inChannels: Int
    let geometry: Conv3dGeometry
    /// Spatial: [M][C * kh * kw]; by Winograd: 16 or 36 [M][C] matrices. Temporal: one [M][C] matrix per tap,
    /// taps outermost; by Winograd: 4 or 6 [M][C] matrices.
    let weight: [Float]
    let isWinograd: Bool
    /// The Winograd block size when `isWinograd` or `isTemporalWinograd`.
    let winogradTile: WinogradTile
    /// Temporal (3,1,1) stride 1 by Winograd along time (Conv3d+TemporalWinograd.swift).
    let isTemporalWinograd: Bool
    let bias: [Float]
    /// Bytes of im2col buffer per tile of frames (at least one frame): big enough for efficient GEMMs, small
    /// enough that the buffer never grows with the clip.
    let tileBytes: Int

    /// What happens to each output value after bias: nothing, ReLU, or adding a residual then ReLU.
    enum Epilogue {
        case identity
        case relu
        case addRelu(residual: UnsafePointer<Float>)
    }

    /// - Parameters:
    ///   - weight: PyTorch layout [M, C, kt, kh, kw].
    ///   - bias: [M].
    ///   - winograd: use Winograd where the geometry allows it (false: im2col and taps, the reference path).
    ///   - winogradTile: F(2,3) or F(4,3) (nil: by the weight count, `WinogradTile.choose`).
    init(weight: [Float], bias: [Float], outChannels: Int, inChannels: Int, geometry: Conv3dGeometry,
         tileBytes: Int = 4 << 20, winograd: Bool = true, winogradTile: WinogradTile? = nil) {
        precondition(weight.count == outChannels * inChannels * geometry.kernel.t * geometry.kernel.h * geometry.kernel.w)
        precondition(bias.count == outChannels)
        self.outChannels = outChannels
        self.inChannels = inChannels
        self.geometry = geometry
        self.bias = bias
        self.tileBytes = tileBytes
        isWinograd = winograd && Self.usesWinograd(geometry)
        self.winogradTile = winogradTile ?? (geometry.kernel.t == 1
            ? WinogradTile.choose(outChannels: outChannels, inChannels: inChannels)
            : Self.temporalTile(outChannels: outChannels, inChannels: inChannels))
        isTemporalWinograd = winograd && Self.usesTemporalWinograd(geometry)
        if isWinograd {
            self.weight = Self.winogradWeights(weight, outChannels: outChannels, inChannels: inChannels, tile: self.winogradTile)
        } else if isTemporalWinograd {
            self.weight = Self.temporalWinogradWeights(weight, outChannels: outChannels, inChannels: inChannels,
                                                       tile: self.winogradTile)
        } else if geometry.kernel.t == 1 {
            precondition(geometry.padding.t == 0, "a spatial conv pads no frames")
            self.weight = weight
        } else {
            precondition(geometry.kernel.h == 1 && geometry.kernel.w == 1 && geometry.stride.h == 1 && geometry.stride.w == 1
                && geometry.padding.h == 0 && geometry.padding.w == 0, "only (kt,1,1) temporal kernels are supported")
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
        }
    }

    var isSpatial: Bool { geometry.kernel.t == 1 }

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
            // claimed by whichever thread is free: with one fixed half per thread, the two halves of a
            // convolution finished up to 10% apart on this shared machine and the first thread waited.
            let unit = splitRows || parallel == 1 ? size.t : framesPerTask(h: h, w: w, outputFrames: size.t, threads: parallel)
            let tasks = (size.t + unit - 1) / unit
            parallelFor(tasks, parts: tasks) { task in
                let frames = (task * unit)..<min(size.t, (task + 1) * unit)
                if isWinograd {
                    winogradForward(input, t: t, h: h, w: w, output: out, frames: frames, epilogue: epilogue,
                                    rowParts: rowParts)
                } else if isTemporalWinograd {
                    temporalWinogradForward(input, t: t, hw: h * w, output: out, frames: frames, epilogue: epilogue,
                                            rowParts: rowParts)
                } else if isSpatial {
                    spatialForward(input, t: t, h: h, w: w, output: out, size: size, frames: frames, epilogue: epilogue,
                                   rowParts: rowParts)
                } else {
                    inRowBands(rowParts) { rows in
                        temporalForward(input, t: t, hw: h * w, output: out, outT: size.t, frames: frames, rows: rows,
                                        epilogue: epilogue)
                    }
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
        if isTemporalWinograd {
            let r = winogradTile.output
            let groups = (share + r - 1) / r
            return r * max(1, min(temporalGroupsPerTile(hw: h * w), groups))
        }
        let size = geometry.outputSize(t: outputFrames, h: h, w: w)
        let tile = isWinograd ? winogradFramesPerTile(h: h, w: w)
            : isSpatial ? im2colFramesPerTile(outH: size.h, outW: size.w) : share
        return max(1, min(tile, share))
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

    /// line[i] = source[2i] for i in lo..<hi, eight at a time (the stride-2 convolutions' im2col rows: the stem's
    /// and each stage's first spatial conv, whose scalar gather was about 3% of a single clip's pass). Reads no
    /// further than source[2(hi - 1)].
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

extension FoldedConv3d.Epilogue {
    /// target[i] = source[i] + bias, then the epilogue (source may be target); the row sits at `residualOffset`
    /// in the residual. Inlined so that at an in-place call the compiler sees source == target and vectorises
    /// (a shared copy found them overlapping at run time and fell back to scalar loops: batch 4 was 2-10% slower
    /// in alternated runs).
    @inline(__always)
    func apply(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int, bias: Float,
               residualOffset: Int) {
        switch self {
        case .identity:
            for i in 0..<count { target[i] = source[i] + bias }
        case .relu:
            for i in 0..<count { target[i] = max(source[i] + bias, 0) }
        case .addRelu(let residual):
            let r = residual + residualOffset
            for i in 0..<count { target[i] = max(source[i] + bias + r[i], 0) }
        }
    }

    /// `apply` for an output row that a Winograd output transform left as `k` planes (`planeStride` apart) of one
    /// value per block: target[k * x + c] = plane_c[x], for k = 2 or 4 and `width` outputs.
    ///
    /// Interleaving and the epilogue in one pass, four outputs per vector store: interleaving with scalar stores
    /// first made the epilogue's vector loads wait on store forwarding (that pass was 15% of a layer1
    /// convolution's profile, half of it on one load). The interleave is a transpose of whole vectors (four
    /// from each plane for k = 4, two for k = 2) rather than a gather of single floats.
    @inline(__always)
    func apply(planes y: UnsafePointer<Float>, _ k: Int, planeStride: Int, into target: UnsafeMutablePointer<Float>,
               width: Int, bias: Float, residualOffset: Int) {
        let quads = width / 4
        let b = SIMD4<Float>(repeating: bias)
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
            UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
        }
        // Output quad q (outputs 4q...4q + 3) through `op`, for every whole quad.
        @inline(__always) func run(_ op: (SIMD4<Float>, Int) -> SIMD4<Float>) {
            @inline(__always) func store(_ v: SIMD4<Float>, _ q: Int) {
                UnsafeMutableRawPointer(target + 4 * q).storeBytes(of: op(v, q), as: SIMD4<Float>.self)
            }
            var q = 0
            if k == 4 {
                while q + 4 <= quads {
                    let p0 = load(y + q), p1 = load(y + planeStride + q)
                    let p2 = load(y + 2 * planeStride + q), p3 = load(y + 3 * planeStride + q)
                    store(SIMD4(p0[0], p1[0], p2[0], p3[0]), q)
                    store(SIMD4(p0[1], p1[1], p2[1], p3[1]), q + 1)
                    store(SIMD4(p0[2], p1[2], p2[2], p3[2]), q + 2)
                    store(SIMD4(p0[3], p1[3], p2[3], p3[3]), q + 3)
                    q += 4
                }
                for q in q..<quads { store(SIMD4(y[q], y[planeStride + q], y[2 * planeStride + q], y[3 * planeStride + q]), q) }
            } else {
                while q + 2 <= quads {
                    let even = load(y + 2 * q), odd = load(y + planeStride + 2 * q)
                    store(SIMD4(even[0], odd[0], even[1], odd[1]), q)
                    store(SIMD4(even[2], odd[2], even[3], odd[3]), q + 1)
                    q += 2
                }
                for q in q..<quads { store(SIMD4(y[2 * q], y[planeStride + 2 * q], y[2 * q + 1], y[planeStride + 2 * q + 1]), q) }
            }
        }
        switch self {
        case .identity:
            run { v, _ in v + b }
        case .relu:
            run { v, _ in
                let sum = v + b
                return sum.replacing(with: 0, where: sum .< 0)
            }
        case .addRelu(let residual):
            let r = UnsafeRawPointer(residual + residualOffset)
            run { v, q in
                let sum = v + b + r.loadUnaligned(fromByteOffset: 16 * q, as: SIMD4<Float>.self)
                return sum.replacing(with: 0, where: sum .< 0)
            }
        }
        for i in (4 * quads)..<width {
            let value = y[(i % k) * planeStride + i / k] + bias
            switch self {
            case .identity: target[i] = value
            case .relu: target[i] = max(value, 0)
            case .addRelu(let residual): target[i] = max(value + residual[residualOffset + i], 0)
            }
        }
    }
}
