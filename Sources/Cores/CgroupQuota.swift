/// The CPU quota that cgroups set on a process, from `/proc/self/cgroup` and the files under the cgroup mount.
///
/// cgroup v2: `/proc/self/cgroup` has the line "0::<path>"; `<root><path>/cpu.max` holds "<quota> <period>" in
/// microseconds, or "max <period>" for none. cgroup v1: a line "<id>:<controllers>:<path>" whose controllers
/// include "cpu"; the hierarchy is mounted at `<root>/<controllers>` (or `<root>/cpu`), with the quota in
/// `cpu.cfs_quota_us` (-1 for none) and the period in `cpu.cfs_period_us`.
///
/// A limit on any ancestor binds too (a Kubernetes pod's sits above its containers'), so every directory from
/// the process's cgroup up to the mount's root is read. Inside a container the mount's root is the container's
/// own cgroup, while a v1 path names the host's hierarchy, so the root alone may be the one that exists.
enum CgroupQuota {
    /// The smallest quota found, in cores rounded up (1.5 CPUs may keep two threads busy for part of each
    /// period); nil when no cgroup sets one.
    /// - Parameter read: a file's contents, nil when it cannot be read.
    static func cores(procSelfCgroup: String, root: String, read: (String) -> String?) -> Int? {
        var quotas: [Int] = []
        for line in procSelfCgroup.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let (controllers, path) = (fields[1], String(fields[2]))
            if fields[0] == "0" && controllers.isEmpty {
                for directory in directories(root, path) {
                    if let quota = read(directory + "/cpu.max").flatMap(v2) { quotas.append(quota) }
                }
            } else if controllers.split(separator: ",").contains("cpu") {
                for mount in Set([root + "/" + controllers, root + "/cpu"]) {
                    for directory in directories(mount, path) {
                        if let quota = v1(read(directory + "/cpu.cfs_quota_us"), read(directory + "/cpu.cfs_period_us")) {
                            quotas.append(quota)
                        }
                    }
                }
            }
        }
        return quotas.min()
    }

    /// `mount` + `path` and each of its parents up to `mount`; ".." and "." are dropped, so nothing outside the
    /// mount is read.
    static func directories(_ mount: String, _ path: String) -> [String] {
        var components = path.split(separator: "/").filter { $0 != "." && $0 != ".." }.map(String.init)
        var result: [String] = []
        while true {
            result.append(([mount] + components).joined(separator: "/"))
            guard !components.isEmpty else { return result }
            components.removeLast()
        }
    }

    /// "<quota> <period>" in cores, nil for "max" or anything malformed.
    static func v2(_ text: String) -> Int? {
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let quota = Int(fields[0]), let period = Int(fields[1]) else { return nil }
        return cores(quota: quota, period: period)
    }

    /// The contents of `cpu.cfs_quota_us` and `cpu.cfs_period_us` in cores, nil for -1 or anything malformed.
    static func v1(_ quota: String?, _ period: String?) -> Int? {
        guard let quota = quota.flatMap(integer), let period = period.flatMap(integer) else { return nil }
        return cores(quota: quota, period: period)
    }

    /// A file that holds one integer.
    static func integer(_ text: String) -> Int? {
        let fields = text.split(whereSeparator: \.isWhitespace)
        return fields.count == 1 ? Int(fields[0]) : nil
    }

    static func cores(quota: Int, period: Int) -> Int? {
        guard quota > 0, period > 0 else { return nil }
        return max(1, (quota + period - 1) / period)
    }
}
