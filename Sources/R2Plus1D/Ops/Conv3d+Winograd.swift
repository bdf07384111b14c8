import CBLAS
import Dispatch

/// Winograd convolution (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016) for the
/// (1,3,3) stride-1 spatial convolutions, which hold about three quarters of R(2+1)D's FLOPs.
///
/// Each r x r block of output comes from an (r+2) x (r+2) block of input: Y = A^T [(G g G^T) . (B^T d B)] A.
/// Across all blocks of a tile of frames the element-wise product is (r+2)^2 GEMMs, one per transformed
/// position xi: M_xi[M][P] = U_xi[M][C] * V_xi[C][P]. V is stored [xi][C][P], each GEMM's B whole: OpenBLAS's
/// unpacked path (`SmallProducts`) reads B in place, and rows `points` times further apart than that (one
/// channel's positions together) left it no faster than packing on layer3's products. M is stored [M][xi][P]
/// (leading dimension points * P), so the output transform reads one channel's positions together.
/// Winograd23.swift and Winograd43.swift hold the transforms.
///
/// F(4x4, 3x3) needs 4 times fewer multiplications than direct convolution, F(2x2, 3x3) 2.25 times, but F(4,3)
/// keeps 36 transformed weights per 3x3 kernel against 16: on layer4's 17 M spatial weights that would be
/// 270 MB instead of 120. So convolutions with up to `largeTileMaxWeights` weights use F(4,3) and bigger ones
/// F(2,3): most of the saving (the early layers have the big frames) for 150 MB less.
enum WinogradTile: Sendable {
    /// F(2x2, 3x3)
    case two
    /// F(4x4, 3x3)
    case four

    /// Up to this many 3x3 weights (M * C * 9), F(4,3); beyond, F(2,3).
    static let largeTileMaxWeights = 2_000_000

    static func choose(outChannels m: Int, inChannels c: Int) -> WinogradTile {
        m * c * 9 <= largeTileMaxWeights ? .four : .two
    }

    /// Output block side r.
    var output: Int { self == .two ? 2 : 4 }
    /// Transformed positions (r + 2)^2.
    var points: Int { (output + 2) * (output + 2) }
    /// Transformed positions in one dimension, r + 2 (the temporal convolutions').
    var points1D: Int { output + 2 }

    /// G ((r + 2) x 3) for the interpolation points 0, 1, -1 (and 2, -2), infinity.
    var g: [[Double]] {
        switch self {
        case .two: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        case .four: [[1.0 / 4, 0, 0], [-1.0 / 6, -1.0 / 6, -1.0 / 6], [-1.0 / 6, 1.0 / 6, -1.0 / 6],
                     [1.0 / 24, 1.0 / 12, 1.0 / 6], [1.0 / 24, -1.0 / 12, 1.0 / 6], [0, 0, 1]]
        }
    }
}

extension FoldedConv3d {
    /// Whether `geometry` is the one Winograd serves here.
    static func usesWinograd(_ g: Conv3dGeometry) -> Bool {
        g.kernel == (1, 3, 3) && g.stride == (1, 1, 1) && g.padding == (0, 1, 1)
    }

    /// weight (M, C, 1, 3, 3) -> U (points, M, C), U_xi = (G g G^T)_xi, computed in Double.
    static func winogradWeights(_ weight: [Float], outChannels m: Int, inChannels c: Int, tile: WinogradTile) -> [Float] {
        let gm = tile.g.flatMap { $0 }, n = tile.g.count
        var u = [Float](repeating: 0, count: n * n * m * c)
        var g = [Double](repeating: 0, count: 9), gg = [Double](repeating: 0, count: n * 3)
        for o in 0..<m {
            for i in 0..<c {
                for k in 0..<9 { g[k] = Double(weight[(o * c + i) * 9 + k]) }
                for row in 0..<n {
                    for col in 0..<3 {
                        gg[row * 3 + col] = gm[row * 3] * g[col] + gm[row * 3 + 1] * g[3 + col] + gm[row * 3 + 2] * g[6 + col]
                    }
                }
                for row in 0..<n {
                    for col in 0..<n {
                        let value = gg[row * 3] * gm[col * 3] + gg[row * 3 + 1] * gm[col * 3 + 1] + gg[row * 3 + 2] * gm[col * 3 + 2]
                        u[((row * n + col) * m + o) * c + i] = Float(value)
                    }
                }
            }
        }
        return u
    }

    /// Frames per tile of transformed input and products: 2 `tileBytes` of them, at least one frame.
    func winogradFramesPerTile(h: Int, w: Int, tile: WinogradTile) -> Int {
        let r = tile.output
        let blocks = ((h + r - 1) / r) * ((w + r - 1) / r)
        return max(1, 2 * tileBytes / (tile.points * (inChannels + outChannels) * blocks * MemoryLayout<Float>.size))
    }

    /// Rows of blocks per span of one frame: all of them, or spans whose transformed input and products fit
    /// `cacheBytes` (as `temporalSpan`), of at least `spanMinimumColumns` blocks. Of R(2+1)D-18's convolutions
    /// only layer1's are split, in two spans of 98 blocks: their GEMMs (144 x 98 by 64, M * N * K = 0.9 M) then
    /// take OpenBLAS's unpacked small-matrix path, which its AVX-512 kernels use up to 10^6 (12% faster than 196
    /// columns packed; the same speed with AVX2 kernels, which have no such path).
    func winogradSpanRows(h: Int, w: Int, tile: WinogradTile) -> Int {
        let r = tile.output
        let tilesH = (h + r - 1) / r, tilesW = (w + r - 1) / r
        let perRow = tile.points * (inChannels + outChannels) * tilesW * MemoryLayout<Float>.size
        let wanted = max(cacheBytes / perRow, (Self.spanMinimumColumns + tilesW - 1) / tilesW, 1)
        guard wanted < tilesH else { return tilesH }
        let spans = (tilesH + wanted - 1) / wanted
        return (tilesH + spans - 1) / spans
    }

    static let spanMinimumColumns = 96

    /// Whether the output of a (t, h, w) clip is written with non-temporal stores (`defaultStreamBytes`).
    func streamsOutput(t: Int, h: Int, w: Int) -> Bool {
        outChannels * t * h * w * MemoryLayout<Float>.size >= streamBytes
    }

    // input (C, T, H, W), U (points, M, C) -> output (M, T, H, W)
    func winogradForward(
        _ input: UnsafePointer<Float>, t: Int, h: Int, w: Int,
        output: UnsafeMutablePointer<Float>, frames range: Range<Int>, tile: WinogradTile, epilogue: Epilogue,
        rowParts: Int = 1
    ) {
        let (m, c) = (outChannels, inChannels)
        let r = tile.output, points = tile.points
        let tilesH = (h + r - 1) / r, tilesW = (w + r - 1) / r
        let spanRows = winogradSpanRows(h: h, w: w, tile: tile)
        // Several frames per tile only when a span is the whole frame.
        let framesPerTile = spanRows < tilesH ? 1 : min(range.count, winogradFramesPerTile(h: h, w: w, tile: tile))
        let spanCapacity = spanRows * tilesW
        let capacity = framesPerTile * spanCapacity
        let v = UnsafeMutablePointer<Float>.allocate(capacity: points * c * capacity)
        // Eight floats of slack: the output transform reads eight blocks at a time, past the last one.
        let product = UnsafeMutablePointer<Float>.allocate(capacity: points * m * capacity + 8)
        defer {
            v.deallocate()
            product.deallocate()
        }
        let plane = h * w
        let stream = streamsOutput(t: t, h: h, w: w)
        // The transforms are split as the GEMMs' rows are, so they do not leave those threads idle.
        let parts = rowParts
        for frameStart in stride(from: range.lowerBound, to: range.upperBound, by: framesPerTile) {
            let frames = min(framesPerTile, range.upperBound - frameStart)
            for ty0 in stride(from: 0, to: tilesH, by: spanRows) {
                let blockRows = ty0..<min(tilesH, ty0 + spanRows)
                let blocks = blockRows.count * tilesW
                let n = frames * blocks
                parallelRanges(c, parts: parts) { channels in
                    let padded = PaddedPlane(h: h, w: w, tilesH: tilesH, tilesW: tilesW, block: r)
                    for ci in channels {
                        for f in 0..<frames {
                            padded.load(input + (ci * t + frameStart + f) * plane, blockRows: blockRows)
                            switch tile {
                            case .two: padded.transformInput23(v: v + ci * n + f * blocks, stride: c * n, rows: blockRows)
                            case .four: padded.transformInput43(v: v + ci * n + f * blocks, stride: c * n, rows: blockRows)
                            }
                        }
                    }
                }
                // Output channel mi of these frames: the output transform, bias and the epilogue.
                func finish(_ mi: Int, rows: borrowing OutputRows) {
                    for f in 0..<frames {
                        let offset = (mi * t + frameStart + f) * plane
                        // Output row y of this frame from k planes of one value per block of its row of blocks.
                        func write(_ planes: UnsafePointer<Float>, _ k: Int, planeStride: Int, row y: Int) {
                            epilogue.apply(planes: planes, k, planeStride: planeStride, into: output + offset + y * w,
                                           width: w, bias: bias[mi], residualOffset: offset + y * w, stream: stream)
                        }
                        let block = product + mi * points * n + f * blocks
                        switch tile {
                        case .two:
                            for ty in blockRows {
                                rows.transformOutput23(block + (ty - ty0) * tilesW, stride: n)
                                for dy in 0..<min(2, h - 2 * ty) {
                                    write(rows.data + 2 * dy * rows.planeLength, 2, planeStride: rows.planeLength, row: 2 * ty + dy)
                                }
                            }
                        case .four:
                            rows.transformOutput43(block, stride: n, blocks: blocks) { dy, y in
                                // Output row 4ty + dy: column 4x + c is Y_c of block x of this row of blocks.
                                for ty in blockRows where 4 * ty + dy < h {
                                    write(y + (ty - ty0) * tilesW, 4, planeStride: blocks, row: 4 * ty + dy)
                                }
                            }
                        }
                    }
                }
                weight.withUnsafeBufferPointer { u in
                    nonisolated(unsafe) let u = u.baseAddress!
                    inRowBands(rowParts) { rows in
                        for xi in 0..<points {
                            gemm(m: rows.count, n: n, k: c, a: u + (xi * m + rows.lowerBound) * c, lda: c, b: v + xi * c * n,
                                 ldb: n, c: product + rows.lowerBound * points * n + xi * n, ldc: points * n, beta: 0)
                        }
                        // One band for all channels: its output transforms split over the BLAS threads.
                        parallelRanges(rows.count, parts: rows.count == m ? parts : 1) { channels in
                            let scratch = OutputRows(tilesW: tilesW, block: r, blocks: blocks)
                            for i in channels { finish(rows.lowerBound + i, rows: scratch) }
                            if stream { cblas_store_fence() }
                        }
                    }
                }
            }
        }
    }
}

/// One frame plane copied into a zero border, so every input block (rows r*ty-1...r*ty+r, columns likewise) is
/// a plain read: F(2,3) reads eight blocks of a row at a time, a group spanning 8r columns whose loads reach r
/// columns further. F(4,3) also gets `rows`, room for six padded rows.
struct PaddedPlane: ~Copyable {
    let h: Int, w: Int, tilesH: Int, tilesW: Int
    /// Output block side r.
    let block: Int
    let pitch: Int
    let data: UnsafeMutablePointer<Float>
    let rows: UnsafeMutablePointer<Float>

    init(h: Int, w: Int, tilesH: Int, tilesW: Int, block r: Int) {
        (self.h, self.w, self.tilesH, self.tilesW, block) = (h, w, tilesH, tilesW, r)
        pitch = 8 * r * ((tilesW + 7) / 8) + r
        let count = (r * tilesH + 2) * pitch
        data = .allocate(capacity: count)
        data.initialize(repeating: 0, count: count)
        rows = .allocate(capacity: r == 4 ? 6 * pitch : 0)
    }

    deinit {
        data.deallocate()
        rows.deallocate()
    }

    /// Copies the rows of a (h, w) plane that blocks in rows `blockRows` read to rows 1...h, columns 1...w; the
    /// border stays zero.
    func load(_ plane: UnsafePointer<Float>, blockRows: Range<Int>) {
        for y in max(0, block * blockRows.lowerBound - 1)..<min(h, block * blockRows.upperBound + 1) {
            (data + (y + 1) * pitch + 1).update(from: plane + y * w, count: w)
        }
    }

    /// Eight transformed values, one per block, to v[0..<count] (count < 8 for a row's last group).
    @inline(__always)
    func store8(_ value: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, count: Int) {
        if count == 8 {
            UnsafeMutableRawPointer(p).storeBytes(of: value, as: SIMD8<Float>.self)
        } else {
            for j in 0..<count { p[j] = value[j] }
        }
    }
}

/// Where the output transforms leave their values before bias and the epilogue interleave them into output rows.
/// F(2,3), one row of blocks: four planes of `planeLength` (eight blocks per group, so past the row's last block
/// they hold lanes never read): Y_00, Y_01 (output row 0, even and odd columns), Y_10, Y_11. F(4,3), one frame:
/// 24 partial results (A^T M) and four outputs per block (`scratch`).
struct OutputRows: ~Copyable {
    let planeLength: Int
    let data: UnsafeMutablePointer<Float>
    let scratch: UnsafeMutablePointer<Float>

    init(tilesW: Int, block r: Int, blocks: Int) {
        planeLength = 8 * ((tilesW + 7) / 8)
        data = .allocate(capacity: r == 2 ? 4 * planeLength : 0)
        scratch = .allocate(capacity: r == 4 ? 28 * blocks : 0)
    }

    deinit {
        data.deallocate()
        scratch.deallocate()
    }
}
