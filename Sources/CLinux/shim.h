#ifndef CLINUX_SHIM_H
#define CLINUX_SHIM_H
/* Linux headers the Glibc module does not export, and wrappers for what Swift cannot import. No logic here. */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/memfd.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <malloc.h>
#include <unistd.h>

/* glibc declares these only under _GNU_SOURCE. */
static inline int clinux_memfd_create(const char *name) {
    return (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC);
}
static inline int clinux_close_range(unsigned int first, unsigned int last) {
    return (int)syscall(SYS_close_range, first, last, 0);
}
/* The calling thread's CPU affinity mask, `bytes` long: the kernel's size in bytes, or -1 (EINVAL: too short). */
static inline int clinux_sched_getaffinity(size_t bytes, void *mask) {
    return (int)syscall(SYS_sched_getaffinity, 0, bytes, mask);
}
static inline int clinux_sched_setaffinity(size_t bytes, const void *mask) {
    return (int)syscall(SYS_sched_setaffinity, 0, bytes, mask);
}

/* prctl is variadic, which Swift does not import. */
static inline int clinux_set_no_new_privs(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }
static inline int clinux_set_seccomp_filter(const struct sock_fprog *program) {
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, program);
}
static inline int clinux_set_parent_death_signal(int signal) { return prctl(PR_SET_PDEATHSIG, signal); }

/* AUDIT_ARCH_* are expressions, which Swift does not import. 0 on an architecture without a filter. */
static inline unsigned int clinux_audit_arch(void) {
#if defined(__x86_64__)
    return AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
    return AUDIT_ARCH_AARCH64;
#else
    return 0;
#endif
}
#endif
