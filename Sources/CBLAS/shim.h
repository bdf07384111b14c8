#ifndef CBLAS_SHIM_H
#define CBLAS_SHIM_H
#include <cblas.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

/* CPUID and XGETBV, which Swift cannot issue: the kernel-set choice reads the CPU as OpenBLAS does. No logic here. */
static inline int cblas_cpuid(unsigned leaf, unsigned subleaf, unsigned registers[4]) {
#if defined(__x86_64__)
    return __get_cpuid_count(leaf, subleaf, &registers[0], &registers[1], &registers[2], &registers[3]);
#else
    return 0;
#endif
}

static inline unsigned long long cblas_xgetbv(unsigned index) {
#if defined(__x86_64__)
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(index));
    return ((unsigned long long)edx << 32) | eax;
#else
    return 0;
#endif
}

/* Non-temporal stores, which Swift cannot issue: a convolution output too large to stay in cache is written past it
 * (FoldedConv3d.streamBytes). The fence orders them before the writing thread signals that it is done. */
typedef float cblas_float4 __attribute__((ext_vector_type(4)));

static inline void cblas_stream_store(float *target, cblas_float4 value) {
    __builtin_nontemporal_store(value, (cblas_float4 *)target);
}

static inline void cblas_store_fence(void) {
#if defined(__x86_64__)
    __builtin_ia32_sfence();
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}
#endif
