import CLinux
import Glibc

/// The system calls a decode worker may make, as a seccomp BPF program: reading and writing its own socket and
/// standard error, memory, time, futexes, signals and exit. Opening a file fails with EACCES; anything else
/// (connect, socket, exec, fork, ptrace, ...) kills the whole process with SIGSYS, which its server sees and
/// reports.
///
/// Opens fail rather than kill because libraries try them on legitimate paths: FFmpeg's MPEG-TS demuxer converts
/// a service name's character set with iconv, and glibc's iconv then opens its module cache. Killed, every
/// transport stream with a service description (any that ffmpeg or a broadcaster writes) was refused; refused,
/// the name stays unconverted and the video decodes. A refused open opens nothing either way.
///
/// ```
/// arch != native            -> kill
/// nr in the allow list      -> allow
/// nr opens a file           -> EACCES
/// clone with CLONE_THREAD   -> allow      (a thread, not a process)
/// clone3                    -> ENOSYS     (its flags are behind a pointer; glibc falls back to clone)
/// otherwise                 -> kill
/// ```
public enum SeccompFilter {
    /// Calls a decode makes; the decode matrix and the hostile corpus run through workers without one restart.
    static let allowed: [Int32] = [
        SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_recvfrom, SYS_sendto, SYS_recvmsg, SYS_sendmsg,
        SYS_close, SYS_fstat, SYS_newfstatat, SYS_lseek, SYS_ppoll,
        SYS_mmap, SYS_munmap, SYS_mremap, SYS_mprotect, SYS_madvise, SYS_brk,
        SYS_futex, SYS_set_robust_list, SYS_rseq, SYS_sched_yield, SYS_sched_getaffinity,
        SYS_clock_gettime, SYS_clock_nanosleep, SYS_nanosleep, SYS_gettimeofday,
        SYS_getpid, SYS_gettid, SYS_getrusage, SYS_prlimit64, SYS_getrandom,
        SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_sigaltstack, SYS_tgkill,
        SYS_exit, SYS_exit_group,
    ] + legacyCalls

    /// Calls that open a file, refused with EACCES.
    static let opens: [Int32] = [SYS_openat, SYS_openat2] + legacyOpens

    /// Calls x86-64 keeps beside their newer forms; arm64 has only the newer ones (glibc's poll is ppoll there,
    /// its open openat), and no SYS_poll or SYS_open to name.
    #if arch(x86_64)
    static let legacyCalls: [Int32] = [SYS_poll]
    static let legacyOpens: [Int32] = [SYS_open]
    #else
    static let legacyCalls: [Int32] = []
    static let legacyOpens: [Int32] = []
    #endif

    /// - Returns: false when this architecture has no filter (the worker then refuses to run).
    static func program() -> [sock_filter]? {
        let arch = clinux_audit_arch()
        guard arch != 0 else { return nil }
        let kill = UInt32(SECCOMP_RET_KILL_PROCESS), allow = UInt32(SECCOMP_RET_ALLOW)
        let enosys = UInt32(SECCOMP_RET_ERRNO) | UInt32(ENOSYS), eacces = UInt32(SECCOMP_RET_ERRNO) | UInt32(EACCES)
        var p: [sock_filter] = []
        func stmt(_ code: Int32, _ k: UInt32) { p.append(sock_filter(code: UInt16(code), jt: 0, jf: 0, k: k)) }
        func jumpIfEqual(_ k: UInt32, skipIfTrue: UInt8, skipIfFalse: UInt8 = 0) {
            p.append(sock_filter(code: UInt16(BPF_JMP | BPF_JEQ | BPF_K), jt: skipIfTrue, jf: skipIfFalse, k: k))
        }
        stmt(BPF_LD | BPF_W | BPF_ABS, 4)  // seccomp_data.arch
        jumpIfEqual(arch, skipIfTrue: 1)
        stmt(BPF_RET | BPF_K, kill)
        stmt(BPF_LD | BPF_W | BPF_ABS, 0)  // seccomp_data.nr
        for nr in allowed {
            jumpIfEqual(UInt32(nr), skipIfTrue: 0, skipIfFalse: 1)
            stmt(BPF_RET | BPF_K, allow)
        }
        for nr in opens {
            jumpIfEqual(UInt32(nr), skipIfTrue: 0, skipIfFalse: 1)
            stmt(BPF_RET | BPF_K, eacces)
        }
        jumpIfEqual(UInt32(SYS_clone3), skipIfTrue: 0, skipIfFalse: 1)
        stmt(BPF_RET | BPF_K, enosys)
        jumpIfEqual(UInt32(SYS_clone), skipIfTrue: 0, skipIfFalse: 3)
        stmt(BPF_LD | BPF_W | BPF_ABS, 16)  // low word of args[0], the flags, on a little-endian machine
        p.append(sock_filter(code: UInt16(BPF_JMP | BPF_JSET | BPF_K), jt: 0, jf: 1, k: UInt32(CLONE_THREAD)))
        stmt(BPF_RET | BPF_K, allow)
        stmt(BPF_RET | BPF_K, kill)
        return p
    }

    /// Installs the filter on the calling process for good (after `PR_SET_NO_NEW_PRIVS`).
    /// - Returns: false if the kernel refused it.
    static func install() -> Bool {
        guard var program = program() else { return false }
        guard clinux_set_no_new_privs() == 0 else { return false }
        return program.withUnsafeMutableBufferPointer { filters in
            var fprog = sock_fprog(len: UInt16(filters.count), filter: filters.baseAddress)
            return clinux_set_seccomp_filter(&fprog) == 0
        }
    }
}
