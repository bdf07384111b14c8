/// The F(4x4, 3x3) transforms (interpolation points 0, 1, -1, 2, -2, infinity): the input one eight blocks of a
/// row at a time (each SIMD lane a block), the output one as loops over a frame's blocks.
///   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
///   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
typealias Lanes6 = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

enum Winograd43 {
    /// B^T a
    @inline(__always)
    static func b(_ a0: SIMD8<Float>, _ a1: SIMD8<Float>, _ a2: SIMD8<Float>, _ a3: SIMD8<Float>, _ a4: SIMD8<Float>,
                  _ a5: SIMD8<Float>) -> Lanes6 {
        let sum12 = a1 + a2, diff12 = a1 - a2, sum34 = a3 + a4, diff43 = a4 - a3
        let u = a4 - a2, d31 = a3 - a1
        return (4 * a0 - 5 * a2 + a4, sum34 - 4 * sum12, diff43 + 4 * diff12, u + 2 * d31, u - 2 * d31, 4 * a1 - 5 * a3 + a5)
    }
}

extension PaddedPlane {
    /// V = B^T d B for every 6x6 block; element xi of block p goes to v[xi * stride + p].
    func transformInput43(v: UnsafeMutablePointer<Float>, stride: Int) {
        let groups = (tilesW + 7) / 8
        for ty in 0..<tilesH {
            for g in 0..<groups {
                let top = UnsafeRawPointer(data + 4 * ty * pitch + 32 * g)
                // Row r of the eight blocks: column k of block j is padded column 32g + 4j + k.
                @inline(__always) func row(_ r: Int) -> Lanes6 {
                    let a = top.loadUnaligned(fromByteOffset: r * pitch * 4, as: SIMD32<Float>.self)
                    let b = top.loadUnaligned(fromByteOffset: (r * pitch + 4) * 4, as: SIMD32<Float>.self)
                    let (ae, ao, be, bo) = (a.evenHalf, a.oddHalf, b.evenHalf, b.oddHalf)
                    return (ae.evenHalf, ao.evenHalf, ae.oddHalf, ao.oddHalf, be.evenHalf, bo.evenHalf)
                }
                let d0 = row(0), d1 = row(1), d2 = row(2), d3 = row(3), d4 = row(4), d5 = row(5)
                // B^T d, column by column.
                let c0 = Winograd43.b(d0.0, d1.0, d2.0, d3.0, d4.0, d5.0)
                let c1 = Winograd43.b(d0.1, d1.1, d2.1, d3.1, d4.1, d5.1)
                let c2 = Winograd43.b(d0.2, d1.2, d2.2, d3.2, d4.2, d5.2)
                let c3 = Winograd43.b(d0.3, d1.3, d2.3, d3.3, d4.3, d5.3)
                let c4 = Winograd43.b(d0.4, d1.4, d2.4, d3.4, d4.4, d5.4)
                let c5 = Winograd43.b(d0.5, d1.5, d2.5, d3.5, d4.5, d5.5)
                let base = v + ty * tilesW + 8 * g
                let count = min(8, tilesW - 8 * g)
                // (B^T d) B: row i of B^T d, its six columns combined the same way.
                @inline(__always) func put(_ i: Int, _ r: Lanes6) {
                    store8(r.0, base + (6 * i) * stride, count: count)
                    store8(r.1, base + (6 * i + 1) * stride, count: count)
                    store8(r.2, base + (6 * i + 2) * stride, count: count)
                    store8(r.3, base + (6 * i + 3) * stride, count: count)
                    store8(r.4, base + (6 * i + 4) * stride, count: count)
                    store8(r.5, base + (6 * i + 5) * stride, count: count)
                }
                put(0, Winograd43.b(c0.0, c1.0, c2.0, c3.0, c4.0, c5.0))
                put(1, Winograd43.b(c0.1, c1.1, c2.1, c3.1, c4.1, c5.1))
                put(2, Winograd43.b(c0.2, c1.2, c2.2, c3.2, c4.2, c5.2))
                put(3, Winograd43.b(c0.3, c1.3, c2.3, c3.3, c4.3, c5.3))
                put(4, Winograd43.b(c0.4, c1.4, c2.4, c3.4, c4.4, c5.4))
                put(5, Winograd43.b(c0.5, c1.5, c2.5, c3.5, c4.5, c5.5))
            }
        }
    }
}

extension OutputRows {
    /// Y = A^T M A for every block of one frame (`product` at its first block, positions `stride` apart) into
    /// `frame`: four planes, Y_c for output column c of each block, each `blocks` long with rows of blocks
    /// `tilesW` apart, for r = 0...3 in turn, handed to `row(r, planes)`.
    ///
    /// Written as loops over the frame's blocks, each reading contiguous floats, which the compiler vectorises;
    /// tuples of SIMD vectors were lowered to scalar code here.
    func transformOutput43(_ product: UnsafePointer<Float>, stride: Int, blocks: Int,
                           row: (Int, UnsafePointer<Float>) -> Void) {
        let s = scratch, y = scratch + 6 * blocks
        for r in 0..<4 {
            // S_j = (A^T M)_{r, j}: row r of A^T against column j of the 6x6 block.
            for j in 0..<6 {
                @inline(__always) func p(_ i: Int) -> UnsafePointer<Float> { product + (6 * i + j) * stride }
                let (p0, p1, p2, p3, p4, p5) = (p(0), p(1), p(2), p(3), p(4), p(5))
                let target = s + j * blocks
                switch r {
                case 0: for x in 0..<blocks { target[x] = p0[x] + p1[x] + p2[x] + p3[x] + p4[x] }
                case 1: for x in 0..<blocks { target[x] = (p1[x] - p2[x]) + 2 * (p3[x] - p4[x]) }
                case 2: for x in 0..<blocks { target[x] = (p1[x] + p2[x]) + 4 * (p3[x] + p4[x]) }
                default: for x in 0..<blocks { target[x] = (p1[x] - p2[x]) + 8 * (p3[x] - p4[x]) + p5[x] }
                }
            }
            // Y_{r, c} = S A, c = 0...3.
            let (s0, s1, s2, s3, s4, s5) = (s, s + blocks, s + 2 * blocks, s + 3 * blocks, s + 4 * blocks, s + 5 * blocks)
            let (y0, y1, y2, y3) = (y, y + blocks, y + 2 * blocks, y + 3 * blocks)
            for x in 0..<blocks {
                let sum12 = s1[x] + s2[x], diff12 = s1[x] - s2[x], sum34 = s3[x] + s4[x], diff34 = s3[x] - s4[x]
                y0[x] = s0[x] + sum12 + sum34
                y1[x] = diff12 + 2 * diff34
                y2[x] = sum12 + 4 * sum34
                y3[x] = diff12 + 8 * diff34 + s5[x]
            }
            row(r, y)
        }
    }
}
