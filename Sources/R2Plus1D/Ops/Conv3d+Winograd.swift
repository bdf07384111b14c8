import Dispatch

/// Winograd F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016) for the
/// (1,3,3) stride-1 spatial convolutions, which hold about three quarters of R(2+1)D's FLOPs.
///
/// Each 2x2 block of output comes from a 4x4 block of input: Y = A^T [(G g G^T) . (B^T d B)] A. Across all
/// blocks of a tile of frames, the element-wise product is 16 GEMMs, one per transformed position xi:
/// M_xi[M][P] = U_xi[M][C] * V_xi[C][P]; 2.25 times fewer multiplications than direct convolution.
extension FoldedConv3d {
    /// Whether `geometry` is the one Winograd F(2,3) serves here.
    static func usesWinograd(_ g: Conv3dGeometry) -> Bool {
        g.kernel == (1, 3, 3) && g.stride == (1, 1, 1) && g.padding == (0, 1, 1)
    }

    /// weight (M, C, 1, 3, 3) -> U (16, M, C), U_xi = (G g G^T)_xi, computed in Double.
    static func winogradWeights(_ weight: [Float], outChannels m: Int, inChannels c: Int) -> [Float] {
        var u = [Float](repeating: 0, count: 16 * m * c)
        for o in 0..<m {
            for i in 0..<c {
                let g = (0..<9).map { Double(weight[(o * c + i) * 9 + $0]) }
                // G g: 4x3
                var gg = [Double](repeating: 0, count: 12)
                for col in 0..<3 {
                    let (g0, g1, g2) = (g[col], g[3 + col], g[6 + col])
                    gg[col] = g0
                    gg[3 + col] = (g0 + g1 + g2) / 2
                    gg[6 + col] = (g0 - g1 + g2) / 2
                    gg[9 + col] = g2
                }
                // (G g) G^T: 4x4
                for row in 0..<4 {
                    let (r0, r1, r2) = (gg[row * 3], gg[row * 3 + 1], gg[row * 3 + 2])
                    let values = [r0, (r0 + r1 + r2) / 2, (r0 - r1 + r2) / 2, r2]
                    for col in 0..<4 { u[((row * 4 + col) * m + o) * c + i] = Float(values[col]) }
                }
            }
        }
        return u
    }

    // input (C, T, H, W), U (16, M, C) -> output (M, T, H, W)
    func winogradForward(
        _ input: UnsafePointer<Float>, t: Int, h: Int, w: Int,
        output: UnsafeMutablePointer<Float>, frames range: Range<Int>, epilogue: Epilogue
    ) {
        let (m, c) = (outChannels, inChannels)
        let tilesH = (h + 1) / 2, tilesW = (w + 1) / 2
        let blocks = tilesH * tilesW
        let perFrame = 16 * (c + m) * blocks * MemoryLayout<Float>.size
        let framesPerTile = max(1, min(range.count, 2 * tileBytes / perFrame))
        let capacity = framesPerTile * blocks
        let v = UnsafeMutablePointer<Float>.allocate(capacity: 16 * c * capacity)
        // Eight floats of slack: the output transform reads eight blocks at a time, past the last one.
        let product = UnsafeMutablePointer<Float>.allocate(capacity: 16 * m * capacity + 8)
        defer {
            v.deallocate()
            product.deallocate()
        }
        let plane = h * w
        // The transforms are split over the threads BLAS would use, so they do not leave those threads idle.
        let parts = BLASThreads.current
        var t0 = range.lowerBound
        while t0 < range.upperBound {
            let frames = min(framesPerTile, range.upperBound - t0)
            let n = frames * blocks
            let frameStart = t0
            parallelFor(c, parts: parts) { ci in
                var padded = PaddedPlane(h: h, w: w, tilesH: tilesH, tilesW: tilesW)
                for f in 0..<frames {
                    padded.load(input + (ci * t + frameStart + f) * plane)
                    padded.transformInput(v: v + ci * n + f * blocks, stride: c * n)
                }
            }
            weight.withUnsafeBufferPointer { u in
                for xi in 0..<16 {
                    gemm(m: m, n: n, k: c, a: u.baseAddress! + xi * m * c, lda: c, b: v + xi * c * n, ldb: n,
                         c: product + xi * m * n, ldc: n, beta: 0)
                }
            }
            parallelFor(m, parts: parts) { mi in
                let rows = UnsafeMutablePointer<Float>.allocate(capacity: 2 * 16 * ((tilesW + 7) / 8))
                defer { rows.deallocate() }
                for f in 0..<frames {
                    let offset = (mi * t + frameStart + f) * plane
                    var residual: UnsafePointer<Float>?
                    if case .addRelu(let r) = epilogue { residual = r + offset }
                    Self.transformOutput(product + mi * n + f * blocks, stride: m * n, h: h, w: w, tilesH: tilesH,
                                         tilesW: tilesW, bias: bias[mi], relu: epilogue.appliesReLU, residual: residual,
                                         output: output + offset, rows: rows)
                }
            }
            t0 += frames
        }
    }

    /// Y = A^T M A for every block of one frame plane, eight blocks of a row at a time, then bias, the residual
    /// and ReLU over the valid part of each output row. `rows` holds two output rows of 16 * ceil(tilesW / 8).
    static func transformOutput(_ product: UnsafePointer<Float>, stride: Int, h: Int, w: Int, tilesH: Int, tilesW: Int,
                                bias: Float, relu: Bool, residual: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                                rows: UnsafeMutablePointer<Float>) {
        let groups = (tilesW + 7) / 8
        let rowLength = 16 * groups
        for ty in 0..<tilesH {
            for g in 0..<groups {
                // Lanes past the row's last block read other blocks (or the slack): they land in `rows` beyond the
                // output width and are never copied out.
                let p = UnsafeRawPointer(product + ty * tilesW + 8 * g)
                @inline(__always) func at(_ xi: Int) -> SIMD8<Float> {
                    p.loadUnaligned(fromByteOffset: xi * stride * 4, as: SIMD8<Float>.self)
                }
                // A^T M: rows 0+1+2 and 1-2-3, for each of the 4 columns.
                let c0 = (at(0) + at(4) + at(8), at(4) - at(8) - at(12))
                let c1 = (at(1) + at(5) + at(9), at(5) - at(9) - at(13))
                let c2 = (at(2) + at(6) + at(10), at(6) - at(10) - at(14))
                let c3 = (at(3) + at(7) + at(11), at(7) - at(11) - at(15))
                // (A^T M) A: columns 0+1+2 and 1-2-3.
                let y00 = c0.0 + c1.0 + c2.0, y01 = c1.0 - c2.0 - c3.0
                let y10 = c0.1 + c1.1 + c2.1, y11 = c1.1 - c2.1 - c3.1
                let r0 = rows + 16 * g, r1 = rows + rowLength + 16 * g
                for j in 0..<8 {
                    r0[2 * j] = y00[j]
                    r0[2 * j + 1] = y01[j]
                    r1[2 * j] = y10[j]
                    r1[2 * j + 1] = y11[j]
                }
            }
            for dy in 0..<min(2, h - 2 * ty) {
                let index = (2 * ty + dy) * w
                let source = rows + dy * rowLength, target = output + index
                if let residual {
                    let r = residual + index
                    for x in 0..<w { target[x] = max(source[x] + bias + r[x], 0) }
                } else if relu {
                    for x in 0..<w { target[x] = max(source[x] + bias, 0) }
                } else {
                    for x in 0..<w { target[x] = source[x] + bias }
                }
            }
        }
    }
}

/// One frame plane copied into a zero border, so every 4x4 input block of F(2,3) (rows 2ty-1...2ty+2, columns
/// 2tx-1...2tx+2) is a plain read, eight blocks of a row at a time.
struct PaddedPlane: ~Copyable {
    let h: Int, w: Int, tilesH: Int, tilesW: Int
    /// Padded row length: 16 columns per group of eight blocks, plus the two the last block overlaps.
    let pitch: Int
    let data: UnsafeMutablePointer<Float>

    init(h: Int, w: Int, tilesH: Int, tilesW: Int) {
        (self.h, self.w, self.tilesH, self.tilesW) = (h, w, tilesH, tilesW)
        pitch = 16 * ((tilesW + 7) / 8) + 2
        let count = (2 * tilesH + 2) * pitch
        data = .allocate(capacity: count)
        data.initialize(repeating: 0, count: count)
    }

    deinit { data.deallocate() }

    /// Copies a (h, w) plane to rows 1...h, columns 1...w; the border stays zero.
    func load(_ plane: UnsafePointer<Float>) {
        for y in 0..<h { (data + (y + 1) * pitch + 1).update(from: plane + y * w, count: w) }
    }

    /// V = B^T d B for every block; element xi of block p goes to v[xi * stride + p].
    func transformInput(v: UnsafeMutablePointer<Float>, stride: Int) {
        let groups = (tilesW + 7) / 8
        for ty in 0..<tilesH {
            for g in 0..<groups {
                let top = UnsafeRawPointer(data + 2 * ty * pitch + 16 * g)
                // Row r of the eight blocks: columns k = 0...3 of block j are padded columns 16g + 2j + k.
                @inline(__always) func row(_ r: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                    let a = top.loadUnaligned(fromByteOffset: r * pitch * 4, as: SIMD16<Float>.self)
                    let b = top.loadUnaligned(fromByteOffset: (r * pitch + 2) * 4, as: SIMD16<Float>.self)
                    return (a.evenHalf, a.oddHalf, b.evenHalf, b.oddHalf)
                }
                let d0 = row(0), d1 = row(1), d2 = row(2), d3 = row(3)
                let base = v + ty * tilesW + 8 * g
                let count = min(8, tilesW - 8 * g)
                // (B^T d) B for row i of B^T d: the same combination across the columns.
                @inline(__always) func put(_ i: Int, _ r: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)) {
                    store8(r.0 - r.2, base + (4 * i) * stride, count: count)
                    store8(r.1 + r.2, base + (4 * i + 1) * stride, count: count)
                    store8(r.2 - r.1, base + (4 * i + 2) * stride, count: count)
                    store8(r.1 - r.3, base + (4 * i + 3) * stride, count: count)
                }
                // B^T d: rows 0-2, 1+2, 2-1, 1-3 (each with its 4 columns).
                put(0, (d0.0 - d2.0, d0.1 - d2.1, d0.2 - d2.2, d0.3 - d2.3))
                put(1, (d1.0 + d2.0, d1.1 + d2.1, d1.2 + d2.2, d1.3 + d2.3))
                put(2, (d2.0 - d1.0, d2.1 - d1.1, d2.2 - d1.2, d2.3 - d1.3))
                put(3, (d1.0 - d3.0, d1.1 - d3.1, d1.2 - d3.2, d1.3 - d3.3))
            }
        }
    }

    @inline(__always)
    private func store8(_ value: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, count: Int) {
        if count == 8 {
            UnsafeMutableRawPointer(p).storeBytes(of: value, as: SIMD8<Float>.self)
        } else {
            for j in 0..<count { p[j] = value[j] }
        }
    }
}

/// Runs `body(i)` for i in 0..<count, split into `parts` contiguous ranges run side by side when parts > 1.
/// Each i must touch memory no other i touches.
func parallelFor(_ count: Int, parts: Int, _ body: (Int) -> Void) {
    guard parts > 1 && count > 1 else {
        for i in 0..<count { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let work = body
        DispatchQueue.concurrentPerform(iterations: min(parts, count)) { part in
            let lo = count * part / min(parts, count), hi = count * (part + 1) / min(parts, count)
            for i in lo..<hi { work(i) }
        }
    }
}

extension FoldedConv3d.Epilogue {
    var appliesReLU: Bool {
        if case .identity = self { return false }
        return true
    }
}
