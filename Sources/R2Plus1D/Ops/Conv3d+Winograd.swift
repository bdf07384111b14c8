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
        let product = UnsafeMutablePointer<Float>.allocate(capacity: 16 * m * capacity)
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
                for f in 0..<frames {
                    Self.transformInput(input + (ci * t + frameStart + f) * plane, h: h, w: w, tilesH: tilesH, tilesW: tilesW,
                                        v: v + ci * n + f * blocks, stride: c * n)
                }
            }
            weight.withUnsafeBufferPointer { u in
                for xi in 0..<16 {
                    gemm(m: m, n: n, k: c, a: u.baseAddress! + xi * m * c, lda: c, b: v + xi * c * n, ldb: n,
                         c: product + xi * m * n, ldc: n, beta: 0)
                }
            }
            parallelFor(m, parts: parts) { mi in
                for f in 0..<frames {
                    let offset = (mi * t + frameStart + f) * plane
                    var residual: UnsafePointer<Float>?
                    if case .addRelu(let r) = epilogue { residual = r + offset }
                    Self.transformOutput(product + mi * n + f * blocks, stride: m * n, h: h, w: w, tilesH: tilesH,
                                         tilesW: tilesW, bias: bias[mi], relu: epilogue.appliesReLU, residual: residual,
                                         output: output + offset)
                }
            }
            t0 += frames
        }
    }

    /// V = B^T d B for every 4x4 input block of one frame plane (zero outside it); element xi of block p goes
    /// to v[xi * stride + p].
    @inline(__always)
    static func transformInput(_ plane: UnsafePointer<Float>, h: Int, w: Int, tilesH: Int, tilesW: Int,
                               v: UnsafeMutablePointer<Float>, stride: Int) {
        var d = (SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>())
        for ty in 0..<tilesH {
            let y0 = 2 * ty - 1
            for tx in 0..<tilesW {
                let x0 = 2 * tx - 1
                if y0 >= 0 && y0 + 3 < h && x0 >= 0 && x0 + 3 < w {
                    let p = plane + y0 * w + x0
                    d.0 = SIMD4(p[0], p[1], p[2], p[3])
                    d.1 = SIMD4(p[w], p[w + 1], p[w + 2], p[w + 3])
                    d.2 = SIMD4(p[2 * w], p[2 * w + 1], p[2 * w + 2], p[2 * w + 3])
                    d.3 = SIMD4(p[3 * w], p[3 * w + 1], p[3 * w + 2], p[3 * w + 3])
                } else {
                    @inline(__always) func row(_ y: Int) -> SIMD4<Float> {
                        guard y >= 0 && y < h else { return SIMD4() }
                        var r = SIMD4<Float>()
                        for k in 0..<4 where x0 + k >= 0 && x0 + k < w { r[k] = plane[y * w + x0 + k] }
                        return r
                    }
                    d = (row(y0), row(y0 + 1), row(y0 + 2), row(y0 + 3))
                }
                // B^T d: rows
                let r0 = d.0 - d.2, r1 = d.1 + d.2, r2 = d.2 - d.1, r3 = d.1 - d.3
                let index = ty * tilesW + tx
                // (B^T d) B: the same combination across each row's columns.
                @inline(__always) func put(_ i: Int, _ r: SIMD4<Float>) {
                    let base = v + (i * 4) * stride + index
                    base[0] = r[0] - r[2]
                    base[stride] = r[1] + r[2]
                    base[2 * stride] = r[2] - r[1]
                    base[3 * stride] = r[1] - r[3]
                }
                put(0, r0)
                put(1, r1)
                put(2, r2)
                put(3, r3)
            }
        }
    }

    /// Y = A^T M A for every block of one frame plane, then bias, the residual and ReLU; writes the valid part.
    @inline(__always)
    static func transformOutput(_ product: UnsafePointer<Float>, stride: Int, h: Int, w: Int, tilesH: Int, tilesW: Int,
                                bias: Float, relu: Bool, residual: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) {
        for ty in 0..<tilesH {
            for tx in 0..<tilesW {
                let p = product + ty * tilesW + tx
                @inline(__always) func row(_ i: Int) -> SIMD4<Float> {
                    SIMD4(p[(i * 4) * stride], p[(i * 4 + 1) * stride], p[(i * 4 + 2) * stride], p[(i * 4 + 3) * stride])
                }
                let m0 = row(0), m1 = row(1), m2 = row(2), m3 = row(3)
                let a0 = m0 + m1 + m2, a1 = m1 - m2 - m3
                let y = (a0[0] + a0[1] + a0[2], a0[1] - a0[2] - a0[3], a1[0] + a1[1] + a1[2], a1[1] - a1[2] - a1[3])
                let (oy, ox) = (2 * ty, 2 * tx)
                @inline(__always) func store(_ dy: Int, _ dx: Int, _ value: Float) {
                    let index = (oy + dy) * w + ox + dx
                    var v = value + bias
                    if let residual { v += residual[index] }
                    output[index] = relu ? max(v, 0) : v
                }
                store(0, 0, y.0)
                if ox + 1 < w { store(0, 1, y.1) }
                if oy + 1 < h {
                    store(1, 0, y.2)
                    if ox + 1 < w { store(1, 1, y.3) }
                }
            }
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
