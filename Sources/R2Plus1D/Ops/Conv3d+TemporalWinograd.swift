/// Winograd F(2,3) along time for the (3,1,1) stride-1 temporal convolutions.
///
/// Two output frames come from four input frames d0...d3 (the frame before the pair to the one after it):
/// y = A^T [(G g) . (B^T d)], where each "element" is a whole frame plane, so the transforms are additions of
/// planes and the element-wise product is 4 GEMMs of U_i [M][C] by V_i [C][pairs * H * W]: 4 GEMMs per two
/// frames where the direct form needs 6 (1.5 times fewer multiplications), with no gather at all.
///   B^T d = (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
///   G g   = (g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2)
///   A^T m = (m0 + m1 + m2, m1 - m2 - m3)
extension FoldedConv3d {
    static func usesTemporalWinograd(_ g: Conv3dGeometry) -> Bool {
        g.kernel == (3, 1, 1) && g.stride == (1, 1, 1) && g.padding == (1, 0, 0)
    }

    /// weight (M, C, 3, 1, 1) -> U (4, M, C), computed in Double.
    static func temporalWinogradWeights(_ weight: [Float], outChannels m: Int, inChannels c: Int) -> [Float] {
        var u = [Float](repeating: 0, count: 4 * m * c)
        for o in 0..<m {
            for i in 0..<c {
                let base = (o * c + i) * 3
                let (g0, g1, g2) = (Double(weight[base]), Double(weight[base + 1]), Double(weight[base + 2]))
                let values = [g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2]
                for k in 0..<4 { u[(k * m + o) * c + i] = Float(values[k]) }
            }
        }
        return u
    }

    // input (C, T, H, W), U (4, M, C) -> output (M, T, H, W), output frames `range`.
    func temporalWinogradForward(
        _ input: UnsafePointer<Float>, t: Int, hw: Int,
        output: UnsafeMutablePointer<Float>, frames range: Range<Int>, epilogue: Epilogue
    ) {
        let (m, c) = (outChannels, inChannels)
        let pairs = (range.count + 1) / 2
        let perPair = 4 * (c + m) * hw * MemoryLayout<Float>.size
        let pairsPerTile = max(1, min(pairs, 2 * tileBytes / perPair))
        let v = UnsafeMutablePointer<Float>.allocate(capacity: 4 * c * pairsPerTile * hw)
        let product = UnsafeMutablePointer<Float>.allocate(capacity: 4 * m * pairsPerTile * hw)
        let zeros = UnsafeMutablePointer<Float>.allocate(capacity: hw)
        zeros.initialize(repeating: 0, count: hw)
        defer {
            v.deallocate()
            product.deallocate()
            zeros.deallocate()
        }
        var pair0 = 0
        while pair0 < pairs {
            let count = min(pairsPerTile, pairs - pair0)
            let n = count * hw
            // V_i [C][count][HW]
            for ci in 0..<c {
                for p in 0..<count {
                    let first = range.lowerBound + 2 * (pair0 + p) - 1
                    @inline(__always) func frame(_ k: Int) -> UnsafePointer<Float> {
                        let f = first + k
                        return f >= 0 && f < t ? input + (ci * t + f) * hw : UnsafePointer(zeros)
                    }
                    let (d0, d1, d2, d3) = (frame(0), frame(1), frame(2), frame(3))
                    let base = v + ci * n + p * hw
                    let (v0, v1, v2, v3) = (base, base + c * n, base + 2 * c * n, base + 3 * c * n)
                    for x in 0..<hw {
                        v0[x] = d0[x] - d2[x]
                        v1[x] = d1[x] + d2[x]
                        v2[x] = d2[x] - d1[x]
                        v3[x] = d1[x] - d3[x]
                    }
                }
            }
            weight.withUnsafeBufferPointer { u in
                for i in 0..<4 {
                    gemm(m: m, n: n, k: c, a: u.baseAddress! + i * m * c, lda: c, b: v + i * c * n, ldb: n,
                         c: product + i * m * n, ldc: n, beta: 0)
                }
            }
            let plane = t * hw
            for mo in 0..<m {
                let value = bias[mo]
                for p in 0..<count {
                    let base = product + mo * n + p * hw
                    let (m0, m1, m2, m3) = (base, base + m * n, base + 2 * m * n, base + 3 * m * n)
                    let to = range.lowerBound + 2 * (pair0 + p)
                    let y0 = output + mo * plane + to * hw
                    let y1 = y0 + hw
                    let second = to + 1 < range.upperBound
                    switch epilogue {
                    case .identity:
                        for x in 0..<hw { y0[x] = m0[x] + m1[x] + m2[x] + value }
                        if second { for x in 0..<hw { y1[x] = m1[x] - m2[x] - m3[x] + value } }
                    case .relu:
                        for x in 0..<hw { y0[x] = max(m0[x] + m1[x] + m2[x] + value, 0) }
                        if second { for x in 0..<hw { y1[x] = max(m1[x] - m2[x] - m3[x] + value, 0) } }
                    case .addRelu(let residual):
                        let r0 = residual + mo * plane + to * hw, r1 = r0 + hw
                        for x in 0..<hw { y0[x] = max(m0[x] + m1[x] + m2[x] + value + r0[x], 0) }
                        if second { for x in 0..<hw { y1[x] = max(m1[x] - m2[x] - m3[x] + value + r1[x], 0) } }
                    }
                }
            }
            pair0 += count
        }
    }
}
