import CBLAS

/// The one place that calls BLAS: C = A * B + beta * C, all row-major Float32.
///
/// A is m x k (leading dimension lda), B is k x n (ldb), C is m x n (ldc).
@inline(__always)
func gemm(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    beta: Float
) {
    cblas_sgemm(
        CblasRowMajor, CblasNoTrans, CblasNoTrans,
        Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// C = A * B^T + beta * C, with B stored n x k (as a Linear layer's weight is).
@inline(__always)
func gemmTransposedB(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    beta: Float
) {
    cblas_sgemm(
        CblasRowMajor, CblasNoTrans, CblasTrans,
        Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// The number of threads BLAS uses for each product.
public enum BLASThreads {
    public static func set(_ count: Int) { openblas_set_num_threads(Int32(max(1, count))) }
    public static var current: Int { Int(openblas_get_num_threads()) }
}
