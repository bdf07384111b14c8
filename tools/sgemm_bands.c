/* Debian's OpenBLAS on P products of M x K by K x N (row-major, beta 0), each run whole or as bands of MB rows of
 * A, with B either whole per product or interleaved as the spatial Winograd once stored it ([K][P][N], leading
 * dimension P * N). Prints the best of 15 passes in ms and GFLOP/s. Bands of M·N·K up to 10^6 take OpenBLAS's
 * unpacked small-matrix path on its AVX-512 kernel sets (see SmallProducts in Sources/R2Plus1D/Ops/GEMM.swift).
 * Build and run: gcc -O2 tools/sgemm_bands.c -o /tmp/sgemm_bands -lopenblas
 *                OPENBLAS_NUM_THREADS=1 /tmp/sgemm_bands M K N P MB [interleaved]
 *   e.g. /tmp/sgemm_bands 576 256 64 36 576, then 576 256 64 36 58   (layer3's spatial GEMMs, whole and banded) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: %s M K N P MB [interleaved]\n", argv[0]);
        return 2;
    }
    long m = atol(argv[1]), k = atol(argv[2]), n = atol(argv[3]), p = atol(argv[4]), mb = atol(argv[5]);
    int interleaved = argc == 7;
    if (m <= 0 || k <= 0 || n <= 0 || p <= 0 || mb <= 0) return 2;
    float *a = malloc(sizeof(float) * m * k * p), *b = malloc(sizeof(float) * k * n * p), *c = malloc(sizeof(float) * m * n * p);
    if (!a || !b || !c) return 1;
    for (long i = 0; i < m * k * p; i++) a[i] = 1e-3f * (float)(i % 7);
    for (long i = 0; i < k * n * p; i++) b[i] = 1e-3f * (float)(i % 5);
    long ldb = interleaved ? p * n : n;
    double best = 1e9;
    for (int pass = 0; pass < 15; pass++) {
        double start = seconds();
        for (long i = 0; i < p; i++) {
            const float *bi = interleaved ? b + i * n : b + i * k * n;
            for (long row = 0; row < m; row += mb) {
                long rows = m - row < mb ? m - row : mb;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)n, (int)k, 1, a + (i * m + row) * k,
                            (int)k, bi, (int)ldb, 0, c + (i * m + row) * n, (int)n);
            }
        }
        double elapsed = seconds() - start;
        if (elapsed < best) best = elapsed;
    }
    printf("M=%ld K=%ld N=%ld P=%ld bands of %ld rows%s: %.3f ms, %.1f GFLOP/s\n", m, k, n, p, mb,
           interleaved ? ", B interleaved" : "", best * 1e3, 2.0 * m * n * k * p / best / 1e9);
    free(a);
    free(b);
    free(c);
    return 0;
}
