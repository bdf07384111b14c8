/// The F(4x4, 3x3) transforms (interpolation points 0, 1, -1, 2, -2, infinity), both as loops along rows of
/// blocks or frames that the compiler vectorises, rather than tuples of SIMD vectors, which it lowers to scalar code.
///   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
///   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
extension PaddedPlane {
    /// V = B^T d B for every 6x6 block in rows `blockRows` of blocks; element xi of the p-th of them goes to
    /// v[xi * stride + p].
    ///
    /// Per row of blocks: B^T over the six input rows as loops along the row (vectorised by the compiler),
    /// then B across each block's six columns.
    func transformInput43(v: UnsafeMutablePointer<Float>, stride: Int, rows blockRows: Range<Int>) {
        let columns = 4 * tilesW + 2, t = rows
        for ty in blockRows {
            let top = data + 4 * ty * pitch
            let (r0, r1, r2, r3, r4, r5) = (top, top + pitch, top + 2 * pitch, top + 3 * pitch, top + 4 * pitch, top + 5 * pitch)
            let (t0, t1, t2) = (t, t + pitch, t + 2 * pitch)
            for x in 0..<columns {
                t0[x] = 4 * r0[x] - 5 * r2[x] + r4[x]
                t1[x] = (r3[x] + r4[x]) - 4 * (r1[x] + r2[x])
                t2[x] = (r4[x] - r3[x]) + 4 * (r1[x] - r2[x])
            }
            let (t3, t4, t5) = (t + 3 * pitch, t + 4 * pitch, t + 5 * pitch)
            for x in 0..<columns {
                let u = r4[x] - r2[x], e = 2 * (r3[x] - r1[x])
                t3[x] = u + e
                t4[x] = u - e
                t5[x] = 4 * r1[x] - 5 * r3[x] + r5[x]
            }
            let base = v + (ty - blockRows.lowerBound) * tilesW
            for i in 0..<6 {
                let row = t + i * pitch
                let (v0, v1, v2) = (base + 6 * i * stride, base + (6 * i + 1) * stride, base + (6 * i + 2) * stride)
                let (v3, v4, v5) = (base + (6 * i + 3) * stride, base + (6 * i + 4) * stride, base + (6 * i + 5) * stride)
                // Four blocks at a time: column k of blocks tx...tx+3 gathered into one vector.
                var tx = 0
                while tx + 4 <= tilesW {
                    let a = row + 4 * tx
                    @inline(__always) func column(_ k: Int) -> SIMD4<Float> { SIMD4(a[k], a[4 + k], a[8 + k], a[12 + k]) }
                    let (a0, a1, a2, a3, a4, a5) = (column(0), column(1), column(2), column(3), column(4), column(5))
                    let u = a4 - a2, e = 2 * (a3 - a1)
                    @inline(__always) func put(_ value: SIMD4<Float>, _ target: UnsafeMutablePointer<Float>) {
                        UnsafeMutableRawPointer(target + tx).storeBytes(of: value, as: SIMD4<Float>.self)
                    }
                    put(4 * a0 - 5 * a2 + a4, v0)
                    put((a3 + a4) - 4 * (a1 + a2), v1)
                    put((a4 - a3) + 4 * (a1 - a2), v2)
                    put(u + e, v3)
                    put(u - e, v4)
                    put(4 * a1 - 5 * a3 + a5, v5)
                    tx += 4
                }
                for tx in tx..<tilesW {
                    let a = row + 4 * tx
                    let (a0, a1, a2, a3, a4, a5) = (a[0], a[1], a[2], a[3], a[4], a[5])
                    let u = a4 - a2, e = 2 * (a3 - a1)
                    v0[tx] = 4 * a0 - 5 * a2 + a4
                    v1[tx] = (a3 + a4) - 4 * (a1 + a2)
                    v2[tx] = (a4 - a3) + 4 * (a1 - a2)
                    v3[tx] = u + e
                    v4[tx] = u - e
                    v5[tx] = 4 * a1 - 5 * a3 + a5
                }
            }
        }
    }
}

extension OutputRows {
    /// Y = A^T M A for every block of one frame (`product` at its first block, positions `stride` apart): for
    /// r = 0...3 in turn, four planes Y_rc (output column c of each block, `blocks` long, rows of blocks `tilesW`
    /// apart) handed to `row(r, planes)`.
    ///
    /// First T = A^T M for all four rows, reading each of the 36 product planes once, then Y_r = T_r A. Written as
    /// loops over the frame's blocks, each reading contiguous floats, which the compiler vectorises (it lowers
    /// tuples of SIMD vectors to scalar code).
    func transformOutput43(_ product: UnsafePointer<Float>, stride: Int, blocks: Int,
                           row: (Int, UnsafePointer<Float>) -> Void) {
        let t = scratch, y = scratch + 24 * blocks
        // T_rj = (A^T M)_rj: column j of the 6x6 block against each row of A^T; plane 6r + j.
        for j in 0..<6 {
            Self.applyAT(product + j * stride, stride: 6 * stride, into: t + j * blocks, stride: 6 * blocks, count: blocks)
        }
        for r in 0..<4 {
            // Y_rc = T_r A, c = 0...3.
            Self.applyAT(t + 6 * r * blocks, stride: blocks, into: y, stride: blocks, count: blocks)
            row(r, y)
        }
    }

    /// out_r = (A^T d)_r, r = 0...3, for `count` values: d_i at `source` + i * sourceStride (i = 0...5), out_r at
    /// `target` + r * targetStride. A loop over contiguous floats, which the compiler vectorises.
    @inline(__always)
    private static func applyAT(_ source: UnsafePointer<Float>, stride sourceStride: Int,
                                into target: UnsafeMutablePointer<Float>, stride targetStride: Int, count: Int) {
        @inline(__always) func d(_ i: Int) -> UnsafePointer<Float> { source + i * sourceStride }
        let (d0, d1, d2, d3, d4, d5) = (d(0), d(1), d(2), d(3), d(4), d(5))
        let (o0, o1, o2, o3) = (target, target + targetStride, target + 2 * targetStride, target + 3 * targetStride)
        for x in 0..<count {
            let sum12 = d1[x] + d2[x], diff12 = d1[x] - d2[x], sum34 = d3[x] + d4[x], diff34 = d3[x] - d4[x]
            o0[x] = d0[x] + sum12 + sum34
            o1[x] = diff12 + 2 * diff34
            o2[x] = sum12 + 4 * sum34
            o3[x] = diff12 + 8 * diff34 + d5[x]
        }
    }
}
