import Testing
@testable import Cores

/// The memory limit read from a fake `/sys/fs/cgroup`: file paths to contents.
private func limit(_ procSelfCgroup: String, _ files: [String: String]) -> Int? {
    CgroupMemory.limitBytes(procSelfCgroup: procSelfCgroup, root: "/sys/fs/cgroup") { files[$0] }
}

@Suite struct CgroupMemoryTests {
    @Test func aV2LimitOnTheProcessOrAnAncestorAndTheSmallestHolds() {
        #expect(limit("0::/\n", ["/sys/fs/cgroup/memory.max": "2147483648\n"]) == 2 << 30)
        let files = [
            "/sys/fs/cgroup/kubepods.slice/pod1/memory.max": "3221225472",
            "/sys/fs/cgroup/kubepods.slice/pod1/ctr/memory.max": "max",
        ]
        #expect(limit("0::/kubepods.slice/pod1/ctr\n", files) == 3 << 30)
        var tighter = files
        tighter["/sys/fs/cgroup/kubepods.slice/pod1/ctr/memory.max"] = "2147483648\n"
        #expect(limit("0::/kubepods.slice/pod1/ctr\n", tighter) == 2 << 30)
    }

    @Test func aV1LimitAtTheMountRootOrOnTheProcessPath() {
        let line = "12:pids:/docker/abc\n9:memory:/docker/abc\n1:name=systemd:/docker/abc\n"
        #expect(limit(line, ["/sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824\n"]) == 1 << 30)
        #expect(limit(line, ["/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "1073741824"]) == 1 << 30)
    }

    @Test func noLimitIsNil() {
        #expect(limit("0::/\n", ["/sys/fs/cgroup/memory.max": "max\n"]) == nil)
        // cgroup v1 writes "no limit" as the largest page-aligned 63-bit value.
        #expect(limit("9:memory:/\n", ["/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"]) == nil)
        #expect(limit("0::/\n", ["/sys/fs/cgroup/memory.max": "lots"]) == nil)
        #expect(limit("", [:]) == nil)
    }

    @Test func pathsOutsideTheMountAreNotRead() {
        #expect(limit("0::/../../etc\n", ["/sys/fs/cgroup/memory.max": "1073741824"]) == 1 << 30)
    }
}
