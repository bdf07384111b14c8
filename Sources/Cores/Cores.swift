import Dispatch
import Foundation
import Synchronization

/// The cores this process may use, and work spread over no more threads than asked.
///
/// Thread pools sized from the machine's core count overrun a container's CPU quota: a pod limited to 2 CPUs on a
/// 64-core node would run 64 threads and spend most of each period throttled, and one pinned to 2 CPUs by its
/// affinity likewise. Foundation's `activeProcessorCount` counts neither the affinity (`CPUAffinity`) nor cgroup v2's
/// `cpu.max`, which current Kubernetes nodes and Docker hosts use.
public enum Cores {
    /// The CPU affinity, bounded by any cgroup CPU quota (v1 or v2) on this process's cgroup or its ancestors,
    /// rounded up; at least 1.
    public static let available: Int = {
        let affinity = CPUAffinity.count() ?? ProcessInfo.processInfo.activeProcessorCount
        let cgroup = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? ""
        let quota = CgroupQuota.cores(procSelfCgroup: cgroup, root: "/sys/fs/cgroup") {
            try? String(contentsOfFile: $0, encoding: .utf8)
        }
        return max(1, min(affinity, quota ?? affinity))
    }()

    /// The memory limit of this process's cgroup or its ancestors (v1 or v2) in bytes; nil when none is set.
    public static let memoryLimitBytes: Int? = {
        let cgroup = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? ""
        return CgroupMemory.limitBytes(procSelfCgroup: cgroup, root: "/sys/fs/cgroup") {
            try? String(contentsOfFile: $0, encoding: .utf8)
        }
    }()

    /// Runs `body(i)` for every i in 0..<count on at most `workers` threads at once, each taking the next index
    /// when it finishes one, so a thread slowed by other work on its core leaves the rest to the others.
    ///
    /// `DispatchQueue.concurrentPerform` alone runs as many iterations at once as the machine has cores, which is
    /// more than the threads a caller was given on a large host.
    public static func forEach(_ count: Int, workers: Int, _ body: (Int) -> Void) {
        let workers = min(workers, count)
        guard workers > 1 else {
            for i in 0..<count { body(i) }
            return
        }
        let next = Atomic<Int>(0)
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let work = body
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while true {
                    let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard i < count else { return }
                    work(i)
                }
            }
        }
    }
}
