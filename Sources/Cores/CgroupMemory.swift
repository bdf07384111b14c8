/// The memory limit that cgroups set on a process, found as `CgroupQuota` finds a CPU quota: cgroup v2's
/// `memory.max` ("max" for none), or cgroup v1's `memory.limit_in_bytes` in the hierarchy whose controllers
/// include "memory" (a huge value for none), on the process's cgroup and every ancestor up to the mount's root.
enum CgroupMemory {
    /// The smallest limit found, in bytes; nil when no cgroup sets one.
    /// - Parameter read: a file's contents, nil when it cannot be read.
    static func limitBytes(procSelfCgroup: String, root: String, read: (String) -> String?) -> Int? {
        var limits: [Int] = []
        for line in procSelfCgroup.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let (controllers, path) = (fields[1], String(fields[2]))
            if fields[0] == "0" && controllers.isEmpty {
                for directory in CgroupQuota.directories(root, path) {
                    if let limit = read(directory + "/memory.max").flatMap(CgroupQuota.integer) { limits.append(limit) }
                }
            } else if controllers.split(separator: ",").contains("memory") {
                for mount in Set([root + "/" + controllers, root + "/memory"]) {
                    for directory in CgroupQuota.directories(mount, path) {
                        if let limit = read(directory + "/memory.limit_in_bytes").flatMap(CgroupQuota.integer) { limits.append(limit) }
                    }
                }
            }
        }
        // v1 states "no limit" as about 2^63; no machine has 2^60 bytes.
        return limits.filter { $0 > 0 && $0 < 1 << 60 }.min()
    }
}
