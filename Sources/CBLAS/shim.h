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
#endif
