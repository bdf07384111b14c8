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
        let found = directories(procSelfCgroup: procSelfCgroup, root: root, controller: "cpu")
        let quotas = found.v2.compactMap { read($0 + "/cpu.max").flatMap(v2) }
            + found.v1.compactMap { v1(read($0 + "/cpu.cfs_quota_us"), read($0 + "/cpu.cfs_period_us")) }
        return quotas.min()
    }

    /// The directories whose files may limit the process: its cgroup v2 directory and each parent, and the same
    /// in the v1 hierarchy whose controllers include `controller` (mounted at `<root>/<controllers>` or
    /// `<root>/<controller>`).
    static func directories(procSelfCgroup: String, root: String, controller: String) -> (v2: [String], v1: [String]) {
        var found: (v2: [String], v1: [String]) = ([], [])
        for line in procSelfCgroup.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let (controllers, path) = (fields[1], String(fields[2]))
            if fields[0] == "0" && controllers.isEmpty {
                found.v2 += directories(root, path)
            } else if controllers.split(separator: ",").contains(Substring(controller)) {
                for mount in Set([root + "/" + controllers, root + "/" + controller]) { found.v1 += directories(mount, path) }
            }
        }
        return found
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
