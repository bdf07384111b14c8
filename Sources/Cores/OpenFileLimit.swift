import Foundation
import Glibc

/// The process's limit on open file descriptors: connections, decode workers' sockets and regions, files.
public enum OpenFileLimit {
    /// Raises the soft limit to the hard one, as Go's runtime does at start. systemd services and some container
    /// runtimes keep a soft limit of 1024 under a far higher hard one, for programs that use `select(2)`; this one
    /// uses epoll.
    /// - Returns: the soft limit now in force, nil when unlimited.
    @discardableResult
    public static func raise() -> Int? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            // An unlimited hard limit is refused as a soft one: the kernel's own ceiling is the most it grants.
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) != 0, let ceiling = kernelCeiling, rlim_t(ceiling) > limit.rlim_cur {
                raised.rlim_cur = rlim_t(ceiling)
                _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised)
            }
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return limit.rlim_cur == rlim_t.max ? nil : Int(clamping: limit.rlim_cur)
    }

    private static var kernelCeiling: Int? {
        (try? String(contentsOfFile: "/proc/sys/fs/nr_open", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}
