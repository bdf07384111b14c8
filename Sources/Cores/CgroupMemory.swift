/// The memory limit that cgroups set on a process, found as `CgroupQuota` finds a CPU quota: cgroup v2's
/// `memory.max` ("max" for none), or cgroup v1's `memory.limit_in_bytes` in the hierarchy whose controllers
/// include "memory" (a huge value for none), on the process's cgroup and every ancestor up to the mount's root.
enum CgroupMemory {
    /// The smallest limit found, in bytes; nil when no cgroup sets one.
    /// - Parameter read: a file's contents, nil when it cannot be read.
    static func limitBytes(procSelfCgroup: String, root: String, read: (String) -> String?) -> Int? {
        let found = CgroupQuota.directories(procSelfCgroup: procSelfCgroup, root: root, controller: "memory")
        let limits = found.v2.compactMap { read($0 + "/memory.max").flatMap(CgroupQuota.integer) }
            + found.v1.compactMap { read($0 + "/memory.limit_in_bytes").flatMap(CgroupQuota.integer) }
        // v1 states "no limit" as about 2^63; no machine has 2^60 bytes.
        return limits.filter { $0 > 0 && $0 < 1 << 60 }.min()
    }
}
