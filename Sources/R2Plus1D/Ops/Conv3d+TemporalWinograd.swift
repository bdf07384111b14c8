/// Winograd along time for the (3,1,1) stride-1 temporal convolutions: F(2,3) or F(4,3) in one dimension.
///
/// r output frames come from r + 2 input frames d_k (from the frame before the group to the one after it):
/// y = A^T [(G g) . (B^T d)], where each "element" is a whole frame plane, so the transforms are additions of
/// planes and the element-wise product is r + 2 GEMMs of U_i [M][C] by V_i [C][groups * H * W], with no gather:
/// per output frame 2 GEMMs for F(2,3) and 1.5 for F(4,3) where the direct form needs 3. The matrices are the
/// spatial ones' (`WinogradTile`), in one dimension.
///   F(2,3): B^T d = (d0 - d2, d1 + d2, d2 - d1, d1 - d3);  A^T m = (m0 + m1 + m2, m1 - m2 - m3)
///
/// F(4,3) keeps 6 values per kernel against 4 and pays only with four or more output frames per thread: it
/// serves convolutions with up to `largeTileMaxWeights` weights (in R(2+1)D-18: the stem, layer1 and layer2,
/// whose 8 to 16 frames the deeper layers do not have).
extension FoldedConv3d {
    static func usesTemporalWinograd(_ g: Conv3dGeometry) -> Bool {
        g.kernel == (3, 1, 1) && g.stride == (1, 1, 1) && g.padding == (1, 0, 0)
    }

    /// Up to this many weights (M * C * 3), F(4,3) along time; beyond, F(2,3).
    static let temporalLargeTileMaxWeights = 300_000

    static func temporalTile(outChannels m: Int, inChannels c: Int) -> WinogradTile {
        m * c * 3 <= temporalLargeTileMaxWeights ? .four : .two
    }

    /// weight (M, C, 3, 1, 1) -> U (r + 2, M, C), U = G g, computed in Double.
    static func temporalWinogradWeights(_ weight: [Float], outChannels m: Int, inChannels c: Int,
                                        tile: WinogradTile) -> [Float] {
        let g = tile.g, n = g.count
        var u = [Float](repeating: 0, count: n * m * c)
        for o in 0..<m {
            for i in 0..<c {
                let base = (o * c + i) * 3
                let (g0, g1, g2) = (Double(weight[base]), Double(weight[base + 1]), Double(weight[base + 2]))
                for k in 0..<n { u[(k * m + o) * c + i] = Float(g[k][0] * g0 + g[k][1] * g1 + g[k][2] * g2) }
            }
        }
        return u
    }

    /// Groups of output frames per tile of transformed input and products: 2 `tileBytes` of them, at least one.
    func temporalGroupsPerTile(hw: Int, tile: WinogradTile) -> Int {
        let points = tile.points1D
        return max(1, 2 * tileBytes / (points * (inChannels + outChannels) * hw * MemoryLayout<Float>.size))
    }

    /// Pixels per span of one group's frame planes: the whole plane, or spans whose transformed input and products
    /// fit `cacheBytes`, so the transforms and the GEMMs pass them through a core's cache instead of memory (a
    /// layer1 group's are 15 MB). A span stays wide enough that its GEMMs stream at least four times the data
    /// they repack of the weights (U_i is repacked per call).
    func temporalSpan(hw: Int, tile: WinogradTile) -> Int {
        let (m, c) = (outChannels, inChannels)
        let perPixel = tile.points1D * (c + m) * MemoryLayout<Float>.size
        let wanted = max(cacheBytes / perPixel, 4 * m * c / (m + c), 8)
        guard wanted < hw else { return hw }
        let spans = (hw + wanted - 1) / wanted
        return (hw + spans - 1) / spans
    }

    // input (C, T, H, W), U (r + 2, M, C) -> output (M, T, H, W), output frames `range`.
    func temporalWinogradForward(
        _ input: UnsafePointer<Float>, t: Int, hw: Int,
        output: UnsafeMutablePointer<Float>, frames range: Range<Int>, tile: WinogradTile, epilogue: Epilogue,
        rowParts: Int = 1
    ) {
        let (m, c) = (outChannels, inChannels)
        let r = tile.output, points = tile.points1D
        let groups = (range.count + r - 1) / r
        let span = temporalSpan(hw: hw, tile: tile)
        // Several groups per tile only when one holds the whole plane.
        let groupsPerTile = span < hw ? 1 : min(groups, temporalGroupsPerTile(hw: hw, tile: tile))
        let v = UnsafeMutablePointer<Float>.allocate(capacity: points * c * groupsPerTile * span)
        let product = UnsafeMutablePointer<Float>.allocate(capacity: points * m * groupsPerTile * span)
        let zeros = UnsafeMutablePointer<Float>.allocate(capacity: hw)
        zeros.initialize(repeating: 0, count: hw)
        defer {
            v.deallocate()
            product.deallocate()
            zeros.deallocate()
        }
        let plane = t * hw
        for (group0, x0) in Self.tiles(groups: groups, perTile: groupsPerTile, hw: hw, span: span) {
            let count = min(groupsPerTile, groups - group0)
            let width = min(span, hw - x0)
            let n = count * width
            // V_i [C][count][width]
            parallelFor(c, parts: rowParts) { ci in
                for p in 0..<count {
                    let first = range.lowerBound + r * (group0 + p) - 1
                    @inline(__always) func frame(_ k: Int) -> UnsafePointer<Float> {
                        let f = first + k
                        return f >= 0 && f < t ? input + (ci * t + f) * hw + x0 : UnsafePointer(zeros)
                    }
                    let base = v + ci * n + p * width
                    @inline(__always) func target(_ i: Int) -> UnsafeMutablePointer<Float> { base + i * c * n }
                    switch tile {
                    case .two:
                        let (d0, d1, d2, d3) = (frame(0), frame(1), frame(2), frame(3))
                        let (v0, v1, v2, v3) = (target(0), target(1), target(2), target(3))
                        for x in 0..<width {
                            v0[x] = d0[x] - d2[x]
                            v1[x] = d1[x] + d2[x]
                            v2[x] = d2[x] - d1[x]
                            v3[x] = d1[x] - d3[x]
                        }
                    case .four:
                        let (d0, d1, d2, d3, d4, d5) = (frame(0), frame(1), frame(2), frame(3), frame(4), frame(5))
                        let (v0, v1, v2) = (target(0), target(1), target(2))
                        for x in 0..<width {
                            v0[x] = 4 * d0[x] - 5 * d2[x] + d4[x]
                            v1[x] = (d3[x] + d4[x]) - 4 * (d1[x] + d2[x])
                            v2[x] = (d4[x] - d3[x]) + 4 * (d1[x] - d2[x])
                        }
                        let (v3, v4, v5) = (target(3), target(4), target(5))
                        for x in 0..<width {
                            let u = d4[x] - d2[x], e = 2 * (d3[x] - d1[x])
                            v3[x] = u + e
                            v4[x] = u - e
                            v5[x] = 4 * d1[x] - 5 * d3[x] + d5[x]
                        }
                    }
                }
            }
            // Output channel mo of these groups: the output transform, bias and the epilogue.
            func finish(_ mo: Int) {
                let value = bias[mo]
                for p in 0..<count {
                    let base = product + mo * n + p * width
                    @inline(__always) func source(_ i: Int) -> UnsafePointer<Float> { UnsafePointer(base + i * m * n) }
                    let to = range.lowerBound + r * (group0 + p)
                    for k in 0..<min(r, range.upperBound - to) {
                        let y = output + mo * plane + (to + k) * hw + x0
                        // A^T row k over the products, into y (before bias and the epilogue).
                        switch (tile, k) {
                        case (.two, 0):
                            let (m0, m1, m2) = (source(0), source(1), source(2))
                            for x in 0..<width { y[x] = m0[x] + m1[x] + m2[x] }
                        case (.two, _):
                            let (m1, m2, m3) = (source(1), source(2), source(3))
                            for x in 0..<width { y[x] = m1[x] - m2[x] - m3[x] }
                        case (.four, 0):
                            let (m0, m1, m2, m3, m4) = (source(0), source(1), source(2), source(3), source(4))
                            for x in 0..<width { y[x] = m0[x] + m1[x] + m2[x] + m3[x] + m4[x] }
                        case (.four, 1):
                            let (m1, m2, m3, m4) = (source(1), source(2), source(3), source(4))
                            for x in 0..<width { y[x] = (m1[x] - m2[x]) + 2 * (m3[x] - m4[x]) }
                        case (.four, 2):
                            let (m1, m2, m3, m4) = (source(1), source(2), source(3), source(4))
                            for x in 0..<width { y[x] = (m1[x] + m2[x]) + 4 * (m3[x] + m4[x]) }
                        case (.four, _):
                            let (m1, m2, m3, m4, m5) = (source(1), source(2), source(3), source(4), source(5))
                            for x in 0..<width { y[x] = (m1[x] - m2[x]) + 8 * (m3[x] - m4[x]) + m5[x] }
                        }
                        epilogue.apply(y, into: y, count: width, bias: value,
                                       residualOffset: mo * plane + (to + k) * hw + x0)
                    }
                }
            }
            weight.withUnsafeBufferPointer { u in
                nonisolated(unsafe) let u = u.baseAddress!
                inRowBands(rowParts) { rows in
                    for i in 0..<points {
                        gemm(m: rows.count, n: n, k: c, a: u + (i * m + rows.lowerBound) * c, lda: c, b: v + i * c * n,
                             ldb: n, c: product + (i * m + rows.lowerBound) * n, ldc: n, beta: 0)
                    }
                    for mo in rows { finish(mo) }
                }
            }
        }
    }

    /// The tiles in order: (first group, first pixel) for tiles of `perTile` groups by `span` pixels.
    static func tiles(groups: Int, perTile: Int, hw: Int, span: Int) -> [(group: Int, pixel: Int)] {
        stride(from: 0, to: groups, by: perTile).flatMap { g in stride(from: 0, to: hw, by: span).map { (g, $0) } }
    }
}
