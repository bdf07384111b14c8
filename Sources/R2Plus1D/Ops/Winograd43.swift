/// The F(4x4, 3x3) transforms (interpolation points 0, 1, -1, 2, -2, infinity), eight blocks of a row at a
/// time (each SIMD lane a block).
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

    /// A^T a
    @inline(__always)
    static func a(_ a0: SIMD8<Float>, _ a1: SIMD8<Float>, _ a2: SIMD8<Float>, _ a3: SIMD8<Float>, _ a4: SIMD8<Float>,
                  _ a5: SIMD8<Float>) -> Lanes4 {
        let p = a1 + a2, q = a1 - a2, s = a3 + a4, d = a3 - a4
        return (a0 + p + s, q + 2 * d, p + 4 * s, q + 8 * d + a5)
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
    /// Y = A^T M A for one row of blocks (`product` at its first block, positions `stride` apart) into the rows.
    func transformOutput43(_ product: UnsafePointer<Float>, stride: Int) {
        for g in 0..<(length / 32) {
            let p = UnsafeRawPointer(product + 8 * g)
            @inline(__always) func at(_ i: Int, _ j: Int) -> SIMD8<Float> {
                p.loadUnaligned(fromByteOffset: (6 * i + j) * stride * 4, as: SIMD8<Float>.self)
            }
            // A^T M: column j of M gives column j of the 4x6 result.
            @inline(__always) func column(_ j: Int) -> Lanes4 {
                Winograd43.a(at(0, j), at(1, j), at(2, j), at(3, j), at(4, j), at(5, j))
            }
            let s0 = column(0), s1 = column(1), s2 = column(2), s3 = column(3), s4 = column(4), s5 = column(5)
            // (A^T M) A: row r of the result, four output columns per block.
            @inline(__always) func emit(_ r: Int, _ y: Lanes4) {
                let target = data + r * length + 32 * g
                for j in 0..<8 {
                    target[4 * j] = y.0[j]
                    target[4 * j + 1] = y.1[j]
                    target[4 * j + 2] = y.2[j]
                    target[4 * j + 3] = y.3[j]
                }
            }
            emit(0, Winograd43.a(s0.0, s1.0, s2.0, s3.0, s4.0, s5.0))
            emit(1, Winograd43.a(s0.1, s1.1, s2.1, s3.1, s4.1, s5.1))
            emit(2, Winograd43.a(s0.2, s1.2, s2.2, s3.2, s4.2, s5.2))
            emit(3, Winograd43.a(s0.3, s1.3, s2.3, s3.3, s4.3, s5.3))
        }
    }
}
