/// The start-up proof that the loaded kernels compute correctly: single-precision products of the engine's own
/// shapes (the stem's im2col, Winograd's batched channel products, a stride-2 downsample, the classifier), with
/// odd sizes that reach the kernels' edge code, against a naive product in double precision.
public enum BLASSelfTest {
    /// (m, n, k, beta, B transposed): C (m x n) = A (m x k) * B (k x n) + beta * C.
    static let shapes: [(m: Int, n: Int, k: Int, beta: Float, transposedB: Bool)] = [
        (45, 393, 147, 0, false),   // stem, spatial 1x7x7 over 3 channels
        (64, 301, 144, 1, false),   // layer1 temporal, accumulating
        (128, 97, 230, 0, false),   // Winograd channel product
        (256, 35, 576, 1, false),   // layer3 stride-2 im2col, accumulating
        (517, 13, 460, 0, false),   // layer4 widths, more rows than a kernel block
        (3, 400, 512, 0, true),     // fc
        // Under the AVX-512 sets `gemm` bands every product above into OpenBLAS's unpacked path; these two are too
        // wide to band (15 rows would fit) and over its size, so they keep the packed kernels in the test.
        (37, 331, 197, 0, false),
        (19, 283, 229, 1, false),
    ]

    /// A product as the engine calls it; the default is OpenBLAS's.
    public typealias Product = @Sendable (_ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                _ c: UnsafeMutablePointer<Float>, _ beta: Float, _ transposedB: Bool) -> Void

    public static let openBLAS: Product = { m, n, k, a, b, c, beta, transposedB in
        if transposedB {
            gemmTransposedB(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: c, ldc: n, beta: beta)
        } else {
            gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n, beta: beta)
        }
    }

    /// - Returns: nil when every product agrees with the naive one within float rounding, else what differed.
    public static func run(_ product: Product = openBLAS) -> String? {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random() -> Float {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000) / 1000
        }
        for shape in shapes {
            let (m, n, k) = (shape.m, shape.n, shape.k)
            let a = (0..<m * k).map { _ in random() }
            let b = (0..<k * n).map { _ in random() }
            var c = (0..<m * n).map { _ in random() }
            let initial = c
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { product(m, n, k, a.baseAddress!, b.baseAddress!, $0.baseAddress!, shape.beta, shape.transposedB) }
                }
            }
            for i in 0..<m {
                for j in 0..<n {
                    var exact = Double(shape.beta) * Double(initial[i * n + j]), magnitude = abs(exact)
                    for p in 0..<k {
                        let term = Double(a[i * k + p]) * Double(shape.transposedB ? b[j * k + p] : b[p * n + j])
                        exact += term
                        magnitude += abs(term)
                    }
                    let got = Double(c[i * n + j])
                    // Float32 accumulation over k terms: well inside k * 2^-24 of the terms' magnitude.
                    guard abs(got - exact) <= 1e-5 * magnitude + 1e-6 else {
                        return "C[\(i), \(j)] of a \(m)x\(n)x\(k) product is \(got), not \(exact)"
                    }
                }
            }
        }
        return nil
    }
}
