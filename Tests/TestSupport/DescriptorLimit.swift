import Glibc

/// Lowers this process's open-file limit so that exactly `free` more descriptors can be opened, for tests of what
/// runs out of them. Only for a child process (an exit test): the limit is the whole process's.
/// - Returns: the soft limit before, for `restoreDescriptorLimit`.
@discardableResult
public func leaveDescriptorsFree(_ free: Int) -> rlim_t {
    var limit = 0, found = 0
    while found < free {
        if fcntl(Int32(limit), F_GETFD) < 0 { found += 1 }
        limit += 1
    }
    var rlimit = Glibc.rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rlimit)
    let before = rlimit.rlim_cur
    rlimit.rlim_cur = rlim_t(limit)
    precondition(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &rlimit) == 0, "setrlimit failed")
    return before
}

public func restoreDescriptorLimit(_ soft: rlim_t) {
    var rlimit = Glibc.rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rlimit)
    rlimit.rlim_cur = soft
    precondition(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &rlimit) == 0, "setrlimit failed")
}
