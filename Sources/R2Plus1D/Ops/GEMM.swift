import CBLAS
import Synchronization

/// The one place that calls BLAS: C = A * B + beta * C, all row-major Float32.
///
/// A is m x k (leading dimension lda), B is k x n (ldb), C is m x n (ldc). A narrow product too large for
/// OpenBLAS's unpacked path runs as bands of A's rows that fit it (`SmallProducts`).
@inline(__always)
func gemm(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    beta: Float, smallProductLimit: Int? = SmallProducts.loadedLimit
) {
    let rows = SmallProducts.bandRows(m: m, n: n, k: k, limit: smallProductLimit)
    for first in stride(from: 0, to: m, by: rows) {
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans,
            Int32(min(rows, m - first)), Int32(n), Int32(k), 1, a + first * lda, Int32(lda), b, Int32(ldb), beta,
            c + first * ldc, Int32(ldc))
    }
}

/// OpenBLAS 0.3.21's AVX-512 kernel sets multiply a product of up to 10^6 multiply-adds (M·N·K) in place,
/// without packing A and B into blocks first. Packing costs a copy of A per product, which a product with few
/// columns (layer3's and layer4's Winograd GEMMs: 64 and 32 a clip) uses only that many times; bands of A's rows
/// small enough for the unpacked path skip it and read B, small, from cache once per band. On a Zen 4 host with
/// the Cooperlake kernels that ran those products 30-47% faster (`tools/sgemm_bands.c`). Bands under 16 rows were
/// slower than packing, and the AVX2 sets' unpacked path is slower than packing at every size tried.
enum SmallProducts {
    /// OpenBLAS's bound on M·N·K for the unpacked path.
    static let limit = 1_000_000
    /// The thinnest band worth cutting.
    static let minimumRows = 16
    /// `limit` when the loaded kernels have the unpacked path worth using, nil otherwise.
    static let loadedLimit: Int? = BLASKernelSet(BLASKernels.loaded).tier == .avx512 ? limit : nil

    /// Rows per band of an m x k by k x n product: as even bands as fit `limit`, or all m rows when the product
    /// fits whole, no limit applies, or a band would be thinner than `minimumRows`.
    static func bandRows(m: Int, n: Int, k: Int, limit: Int?) -> Int {
        guard let limit, m * n * k > limit, n * k > 0 else { return max(m, 1) }
        let fit = limit / (n * k)
        guard fit >= minimumRows else { return m }
        let bands = (m + fit - 1) / fit
        return (m + bands - 1) / bands
    }
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

/// The threads the engine splits its work over. OpenBLAS itself runs every product on one thread, set once here:
/// the engine splits convolutions and clips over the threads itself, a product OpenBLAS split would leave its idle
/// threads spinning into the next pass, and a count toggled around each pass was shared by passes running at once
/// (`serve --workers 2`), so one pass could leave every later one on a single thread.
public enum BLASThreads {
    /// OpenBLAS's own count when first asked (the cores, or `OPENBLAS_NUM_THREADS`), after which OpenBLAS keeps one.
    private static let engineThreads: Atomic<Int> = {
        let count = Int(openblas_get_num_threads())
        openblas_set_num_threads(1)
        return Atomic(max(1, count))
    }()

    public static func set(_ count: Int) { engineThreads.store(max(1, count), ordering: .relaxed) }
    public static var current: Int { engineThreads.load(ordering: .relaxed) }
    /// OpenBLAS's own count: 1 once `current` or `set` has been used.
    static var openBLAS: Int { Int(openblas_get_num_threads()) }
}
