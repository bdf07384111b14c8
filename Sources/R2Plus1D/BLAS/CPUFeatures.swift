import CBLAS

/// The instruction-set extensions that decide which OpenBLAS kernel set a CPU can run, read from CPUID the way
/// OpenBLAS reads them: an extension counts only if the operating system also saves its registers (XGETBV), so a
/// hypervisor or valgrind that hides AVX-512 hides it here too.
public struct CPUFeatures: Sendable, Equatable, CustomStringConvertible {
    public enum Vendor: String, Sendable { case intel = "GenuineIntel", amd = "AuthenticAMD", other }

    public enum Feature: String, Sendable, CaseIterable, Comparable {
        case sse3, ssse3, sse41 = "sse4.1", sse42 = "sse4.2", avx, fma, avx2
        case avx512f, avx512dq, avx512bw, avx512vl, avx512bf16
        /// AMD's own: OpenBLAS's Opteron kernels use 3DNow!, its Bulldozer-family kernels FMA4. AMD dropped 3DNow!
        /// in 2011 and FMA4 with Zen; Intel never had either, and QEMU's models that name old AMD CPUs lack them.
        case threeDNow = "3dnow", fma4

        public static func < (a: Feature, b: Feature) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }

    public var vendor: Vendor
    public var family: Int
    public var model: Int
    public var features: Set<Feature>

    public init(vendor: Vendor, family: Int = 0, model: Int = 0, features: Set<Feature>) {
        self.vendor = vendor
        self.family = family
        self.model = model
        self.features = features
    }

    public func has(_ needed: Set<Feature>) -> Bool { needed.isSubset(of: features) }

    public var description: String {
        let names = features.sorted().map(\.rawValue).joined(separator: " ")
        return "\(vendor.rawValue) family \(family) model \(model): \(names.isEmpty ? "none of the tracked extensions" : names)"
    }

    /// This machine's CPU.
    public static let current = CPUFeatures.read()

    static func read() -> CPUFeatures {
        var r: [UInt32] = [0, 0, 0, 0]
        func cpuid(_ leaf: UInt32, _ subleaf: UInt32 = 0) -> (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32)? {
            guard cblas_cpuid(leaf, subleaf, &r) != 0 else { return nil }
            return (r[0], r[1], r[2], r[3])
        }
        guard let leaf0 = cpuid(0) else { return CPUFeatures(vendor: .other, features: []) }
        let vendorBytes = [leaf0.ebx, leaf0.edx, leaf0.ecx].flatMap { word in (0..<4).map { UInt8((word >> ($0 * 8)) & 0xFF) } }
        let vendor = Vendor(rawValue: String(decoding: vendorBytes, as: UTF8.self)) ?? .other
        var features: Set<Feature> = []
        var family = 0, model = 0
        if let leaf1 = cpuid(1) {
            let baseFamily = Int((leaf1.eax >> 8) & 0xF), baseModel = Int((leaf1.eax >> 4) & 0xF)
            family = baseFamily == 0xF ? baseFamily + Int((leaf1.eax >> 20) & 0xFF) : baseFamily
            model = baseFamily == 0x6 || baseFamily == 0xF ? baseModel | Int((leaf1.eax >> 16) & 0xF) << 4 : baseModel
            let ecx = leaf1.ecx
            func bit(_ n: UInt32) -> Bool { ecx & (1 << n) != 0 }
            if bit(0) { features.insert(.sse3) }
            if bit(9) { features.insert(.ssse3) }
            if bit(19) { features.insert(.sse41) }
            if bit(20) { features.insert(.sse42) }
            // XCR0: bits 1-2 are SSE and AVX state, bits 5-7 the AVX-512 opmask and ZMM state.
            let osSaves = bit(27) ? cblas_xgetbv(0) : 0
            let ymm = osSaves & 0x6 == 0x6, zmm = osSaves & 0xE6 == 0xE6
            if ymm && bit(28) { features.insert(.avx) }
            if ymm && bit(12) { features.insert(.fma) }
            // nil for a leaf above the CPU's highest (GCC's __get_cpuid_count checks the range).
            if let extended = cpuid(0x8000_0001) {
                if extended.edx & (1 << 31) != 0 { features.insert(.threeDNow) }
                if ymm && extended.ecx & (1 << 16) != 0 { features.insert(.fma4) }
            }
            if leaf0.eax >= 7, let leaf7 = cpuid(7) {
                func bit7(_ n: UInt32) -> Bool { leaf7.ebx & (1 << n) != 0 }
                if ymm && bit7(5) { features.insert(.avx2) }
                if zmm {
                    if bit7(16) { features.insert(.avx512f) }
                    if bit7(17) { features.insert(.avx512dq) }
                    if bit7(30) { features.insert(.avx512bw) }
                    if bit7(31) { features.insert(.avx512vl) }
                    if let sub1 = cpuid(7, 1), sub1.eax & (1 << 5) != 0 { features.insert(.avx512bf16) }
                }
            }
        }
        return CPUFeatures(vendor: vendor, family: family, model: model, features: features)
    }
}
