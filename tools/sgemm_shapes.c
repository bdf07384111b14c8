/* Debian's OpenBLAS on one GEMM shape, as the Winograd convolutions call it: P products of M x K by K x N,
 * row-major, beta 0; prints the best of 20 passes in ms and GFLOP/s.
 * Build and run: gcc -O2 tools/sgemm_shapes.c -o /tmp/sgemm_shapes -lopenblas
 *                OPENBLAS_NUM_THREADS=1 /tmp/sgemm_shapes M K N P   (OPENBLAS_CORETYPE picks the kernel set) */
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
    if (argc != 5) {
        fprintf(stderr, "usage: %s M K N P\n", argv[0]);
        return 2;
    }
    long m = atol(argv[1]), k = atol(argv[2]), n = atol(argv[3]), p = atol(argv[4]);
    float *a = malloc(sizeof(float) * m * k * p), *b = malloc(sizeof(float) * k * n * p), *c = malloc(sizeof(float) * m * n * p);
    if (!a || !b || !c) return 1;
    for (long i = 0; i < m * k * p; i++) a[i] = 1e-3f * (float)(i % 7);
    for (long i = 0; i < k * n * p; i++) b[i] = 1e-3f * (float)(i % 5);
    double best = 1e9;
    for (int pass = 0; pass < 20; pass++) {
        double start = seconds();
        for (long i = 0; i < p; i++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1, a + i * m * k, (int)k,
                        b + i * k * n, (int)n, 0, c + i * m * n, (int)n);
        double elapsed = seconds() - start;
        if (elapsed < best) best = elapsed;
    }
    printf("M=%ld K=%ld N=%ld P=%ld: %.3f ms, %.1f GFLOP/s\n", m, k, n, p, best * 1e3, 2.0 * m * k * n * p / best / 1e9);
    return 0;
}
