@testable import R2Plus1D
import Testing

/// Narrow products cut into bands of rows for OpenBLAS's unpacked path: the cut, and the product it computes.
@Suite struct GEMMBandTests {
    @Test func bandsFitTheUnpackedPathAndCoverTheRows() {
        // R(2+1)D-18's narrow products: layer4's, layer3's and layer2's spatial Winograd GEMMs.
        for (m, n, k) in [(1152, 32, 512), (576, 64, 256), (288, 98, 128), (64, 210, 144), (230, 147, 128)] {
            let rows = SmallProducts.bandRows(m: m, n: n, k: k, limit: SmallProducts.limit)
            #expect(rows < m)
            #expect(rows * n * k <= SmallProducts.limit)
            #expect(rows >= SmallProducts.minimumRows)
            // Bands as even as the limit allows: one row fewer would need another band.
            let bands = (m + rows - 1) / rows
            #expect((m + rows - 2) / (rows - 1) > bands || rows == 1)
        }
    }

    @Test func wideOrSmallProductsAreNotCut() {
        // Already under the limit, bands thinner than the minimum (K and N both wide), and no unpacked path.
        #expect(SmallProducts.bandRows(m: 144, n: 98, k: 64, limit: SmallProducts.limit) == 144)
        #expect(SmallProducts.bandRows(m: 460, n: 784, k: 1152, limit: SmallProducts.limit) == 460)
        #expect(SmallProducts.bandRows(m: 128, n: 262, k: 288, limit: SmallProducts.limit) == 128)
        #expect(SmallProducts.bandRows(m: 1152, n: 32, k: 512, limit: nil) == 1152)
    }

    @Test func selfTestReachesBothOfOpenBLASsPaths() {
        let limit = SmallProducts.limit
        let packed = BLASSelfTest.shapes.filter { !$0.transposedB && $0.m * $0.n * $0.k > limit
            && SmallProducts.bandRows(m: $0.m, n: $0.n, k: $0.k, limit: limit) == $0.m }
        let unpacked = BLASSelfTest.shapes.filter { !$0.transposedB && $0.m * $0.n * $0.k > limit
            && SmallProducts.bandRows(m: $0.m, n: $0.n, k: $0.k, limit: limit) < $0.m }
        #expect(packed.contains { $0.beta == 0 } && packed.contains { $0.beta == 1 })
        #expect(unpacked.contains { $0.beta == 0 } && unpacked.contains { $0.beta == 1 })
    }

    // Limits that cut these into 3, 2 and 7 bands (the last of 15 rows, fewer than the others), and one under its limit.
    @Test(arguments: [(37, 5, 11, 880), (64, 3, 9, 864), (100, 7, 13, 1456), (9, 9, 9, 1000)])
    func bandedProductMatchesNaive(_ shape: (m: Int, n: Int, k: Int, limit: Int)) {
        let (m, n, k) = (shape.m, shape.n, shape.k)
        let a = (0..<(m * k)).map { Float(($0 * 7) % 13) - 6 }
        let b = (0..<(k * n)).map { Float(($0 * 5) % 11) - 5 }
        // C has a wider leading dimension, and beta 1 over a nonzero start, as the im2col GEMMs accumulate.
        let ldc = n + 3
        var c = [Float](repeating: 0.5, count: m * ldc)
        #expect(SmallProducts.bandRows(m: m, n: n, k: k, limit: shape.limit) < m || m * n * k <= shape.limit)
        c.withUnsafeMutableBufferPointer { c in
            gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c.baseAddress!, ldc: ldc, beta: 1,
                 smallProductLimit: shape.limit)
        }
        for i in 0..<m {
            for j in 0..<ldc {
                var expected: Float = 0.5
                if j < n { for p in 0..<k { expected += a[i * k + p] * b[p * n + j] } }
                #expect(c[i * ldc + j] == expected, "row \(i) column \(j)")
            }
        }
    }
}
