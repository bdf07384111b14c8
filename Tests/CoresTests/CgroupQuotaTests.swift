import Testing
@testable import Cores

/// The quota read from a fake `/sys/fs/cgroup`: file paths to contents.
private func quota(_ procSelfCgroup: String, _ files: [String: String]) -> Int? {
    CgroupQuota.cores(procSelfCgroup: procSelfCgroup, root: "/sys/fs/cgroup") { files[$0] }
}

@Suite struct CgroupQuotaTests {
    @Test func aV2QuotaInTheProcessOwnNamespaceIsRoundedUp() {
        #expect(quota("0::/\n", ["/sys/fs/cgroup/cpu.max": "150000 100000\n"]) == 2)
        #expect(quota("0::/\n", ["/sys/fs/cgroup/cpu.max": "200000 100000\n"]) == 2)
        #expect(quota("0::/\n", ["/sys/fs/cgroup/cpu.max": "50000 100000\n"]) == 1)
    }

    @Test func noQuotaIsNil() {
        #expect(quota("0::/\n", ["/sys/fs/cgroup/cpu.max": "max 100000\n"]) == nil)
        #expect(quota("0::/\n", [:]) == nil)
        #expect(quota("", [:]) == nil)
    }

    @Test func theSmallestQuotaOnTheWayToTheRootHolds() {
        // Kubernetes without a cgroup namespace: the pod's limit sits above the container's.
        let files = [
            "/sys/fs/cgroup/kubepods.slice/pod1/cpu.max": "400000 100000",
            "/sys/fs/cgroup/kubepods.slice/pod1/ctr/cpu.max": "max 100000",
            "/sys/fs/cgroup/kubepods.slice/cpu.max": "max 100000",
        ]
        #expect(quota("0::/kubepods.slice/pod1/ctr\n", files) == 4)
        var tighter = files
        tighter["/sys/fs/cgroup/kubepods.slice/pod1/ctr/cpu.max"] = "300000 100000"
        #expect(quota("0::/kubepods.slice/pod1/ctr\n", tighter) == 3)
    }

    @Test func aV1QuotaAtTheMountRootOrOnTheProcessPath() {
        // Docker on cgroup v1: the container's cgroup is the mount's root, /proc/self/cgroup names the host's path.
        let line = "12:pids:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n"
        #expect(quota(line, ["/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "100000\n",
                             "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n"]) == 1)
        #expect(quota(line, ["/sys/fs/cgroup/cpu/docker/abc/cpu.cfs_quota_us": "250000",
                             "/sys/fs/cgroup/cpu/docker/abc/cpu.cfs_period_us": "100000"]) == 3)
        #expect(quota(line, ["/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1",
                             "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000"]) == nil)
    }

    @Test func malformedFilesAreIgnored() {
        #expect(quota("0::/\n", ["/sys/fs/cgroup/cpu.max": "lots\n"]) == nil)
        #expect(quota("0::/\n", ["/sys/fs/cgroup/cpu.max": "100000 0"]) == nil)
        #expect(quota("0::/\n", ["/sys/fs/cgroup/cpu.max": "-5 100000"]) == nil)
        #expect(quota("0::/../../etc\n", ["/sys/fs/cgroup/cpu.max": "100000 100000"]) == 1)
        #expect(quota("garbage\n0::\n", [:]) == nil)
    }
}

@Suite struct CoresForEachTests {
    @Test(arguments: [(0, 2), (1, 2), (5, 1), (8, 2), (8, 3), (3, 8)])
    func everyIndexRunsOnceOnAtMostTheWorkersAsked(count: Int, workers: Int) {
        let seen = Tally(count)
        Cores.forEach(count, workers: workers) { i in seen.enter(i) }
        #expect(seen.counts == [Int](repeating: 1, count: count))
        #expect(seen.mostAtOnce <= max(1, workers))
    }
}
