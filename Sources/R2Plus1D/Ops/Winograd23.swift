/// The F(2x2, 3x3) transforms, eight blocks of a row at a time (each SIMD lane a block).
///   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]    A^T = [1 1 1 0; 0 1 -1 -1]
typealias Lanes4 = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

extension PaddedPlane {
    /// V = B^T d B for every 4x4 block in rows `blockRows` of blocks; element xi of the p-th of them goes to
    /// v[xi * stride + p].
    func transformInput23(v: UnsafeMutablePointer<Float>, stride: Int, rows blockRows: Range<Int>) {
        let groups = (tilesW + 7) / 8
        for ty in blockRows {
            for g in 0..<groups {
                let top = UnsafeRawPointer(data + 2 * ty * pitch + 16 * g)
                // Row r of the eight blocks: column k of block j is padded column 16g + 2j + k.
                @inline(__always) func row(_ r: Int) -> Lanes4 {
                    let a = top.loadUnaligned(fromByteOffset: r * pitch * 4, as: SIMD16<Float>.self)
                    let b = top.loadUnaligned(fromByteOffset: (r * pitch + 2) * 4, as: SIMD16<Float>.self)
                    return (a.evenHalf, a.oddHalf, b.evenHalf, b.oddHalf)
                }
                let d0 = row(0), d1 = row(1), d2 = row(2), d3 = row(3)
                let base = v + (ty - blockRows.lowerBound) * tilesW + 8 * g
                let count = min(8, tilesW - 8 * g)
                // (B^T d) B for row i of B^T d: the same combination across the columns.
                @inline(__always) func put(_ i: Int, _ r: Lanes4) {
                    store8(r.0 - r.2, base + (4 * i) * stride, count: count)
                    store8(r.1 + r.2, base + (4 * i + 1) * stride, count: count)
                    store8(r.2 - r.1, base + (4 * i + 2) * stride, count: count)
                    store8(r.1 - r.3, base + (4 * i + 3) * stride, count: count)
                }
                put(0, (d0.0 - d2.0, d0.1 - d2.1, d0.2 - d2.2, d0.3 - d2.3))
                put(1, (d1.0 + d2.0, d1.1 + d2.1, d1.2 + d2.2, d1.3 + d2.3))
                put(2, (d2.0 - d1.0, d2.1 - d1.1, d2.2 - d1.2, d2.3 - d1.3))
                put(3, (d1.0 - d3.0, d1.1 - d3.1, d1.2 - d3.2, d1.3 - d3.3))
            }
        }
    }
}

extension OutputRows {
    /// Y = A^T M A for one row of blocks (`product` at its first block, positions `stride` apart) into the four
    /// planes Y_00, Y_01, Y_10, Y_11.
    func transformOutput23(_ product: UnsafePointer<Float>, stride: Int) {
        for g in 0..<(planeLength / 8) {
            let p = UnsafeRawPointer(product + 8 * g)
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
            @inline(__always) func put(_ value: SIMD8<Float>, _ plane: Int) {
                UnsafeMutableRawPointer(data + plane * planeLength + 8 * g).storeBytes(of: value, as: SIMD8<Float>.self)
            }
            put(y00, 0)
            put(y01, 1)
            put(y10, 2)
            put(y11, 3)
        }
    }
}
