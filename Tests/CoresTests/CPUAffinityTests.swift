import CLinux
import Cores
import Testing

/// `taskset`, `docker run --cpuset-cpus`, Kubernetes' static CPU manager and systemd's `CPUAffinity=` narrow the CPUs
/// a process may run on without a CPU quota; the threads must fit them, not the host.
@Suite struct CPUAffinityTests {
    /// In a child process: the affinity and `Cores.available`, computed once, are the process's.
    @Test func aProcessPinnedToOneCPUSeesOneCore() async {
        await #expect(processExitsWith: .success) {
            // The lowest CPU this process may use (a container's set need not hold CPU 0).
            var mask = [UInt8](repeating: 0, count: 128)
            #expect(mask.withUnsafeMutableBytes { clinux_sched_getaffinity(128, $0.baseAddress) } > 0)
            let byte = mask.firstIndex { $0 != 0 }!
            mask = mask.indices.map { $0 == byte ? mask[byte] & (~mask[byte] &+ 1) : 0 }
            #expect(clinux_sched_setaffinity(mask.count, mask) == 0)
            #expect(CPUAffinity.count() == 1)
            #expect(Cores.available == 1)
        }
    }

    @Test func theCountIsTheMasksSetBits() {
        #expect(CPUAffinity.bitCount([0b1011, 0, 0xFF, 0x80]) == 12)
        #expect(CPUAffinity.bitCount([0, 0]) == 0)
    }

    @Test func theCountIsTheCPUsThisProcessMayUse() throws {
        let count = try #require(CPUAffinity.count())
        #expect(count >= 1 && count <= Int(sysconf(Int32(_SC_NPROCESSORS_CONF))))
    }
}
