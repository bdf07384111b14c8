import CLinux
import Glibc

/// The CPUs this process may run on. `taskset`, `docker run --cpuset-cpus`, Kubernetes' static CPU manager and
/// systemd's `CPUAffinity=` narrow them without any CPU quota, and Foundation's `activeProcessorCount` counts the
/// host's CPUs whatever the affinity.
public enum CPUAffinity {
    /// The CPUs in the calling thread's affinity mask (a new thread inherits it); nil when it cannot be read.
    public static func count() -> Int? {
        // glibc's cpu_set_t holds 1024 CPUs; the kernel refuses a mask shorter than its own (EINVAL), so a larger
        // host gets a longer one.
        var bytes = MemoryLayout<cpu_set_t>.size
        while bytes <= 1 << 16 {
            var mask = [UInt8](repeating: 0, count: bytes)
            let written = mask.withUnsafeMutableBytes { clinux_sched_getaffinity(bytes, $0.baseAddress) }
            if written > 0 { return bitCount(mask.prefix(Int(written))) }
            guard errno == EINVAL else { return nil }
            bytes *= 2
        }
        return nil
    }

    public static func bitCount<Mask: Sequence<UInt8>>(_ mask: Mask) -> Int {
        mask.reduce(0) { $0 + $1.nonzeroBitCount }
    }
}
