/// The OpenBLAS kernel sets the engine knows, by the names OPENBLAS_CORETYPE takes and `openblas_get_corename`
/// returns, ranked by the instructions they need.
public struct BLASKernelSet: Sendable, Hashable, CustomStringConvertible {
    /// The instruction tier a kernel set runs on: a CPU at a tier can run every set at or below it.
    public enum Tier: Int, Sendable, Comparable, CaseIterable {
        case sse3, sse42, avx, avx2, avx512

        public static func < (a: Tier, b: Tier) -> Bool { a.rawValue < b.rawValue }
    }

    public let name: String

    public init(_ name: String) { self.name = name }

    public var description: String { name }

    public static let prescott = BLASKernelSet("Prescott")
    public static let nehalem = BLASKernelSet("Nehalem")
    public static let sandybridge = BLASKernelSet("Sandybridge")
    public static let haswell = BLASKernelSet("Haswell")
    public static let zen = BLASKernelSet("Zen")
    public static let skylakeX = BLASKernelSet("SkylakeX")
    public static let cooperlake = BLASKernelSet("Cooperlake")
    public static let sapphireRapids = BLASKernelSet("SapphireRapids")

    /// Every name OpenBLAS 0.3.x uses on x86-64, with its tier. A name not here (a newer OpenBLAS's) has no tier,
    /// and the engine then trusts OpenBLAS's pick.
    static let tiers: [String: Tier] = [
        "Katmai": .sse3, "Coppermine": .sse3, "Northwood": .sse3, "Prescott": .sse3, "Banias": .sse3, "Atom": .sse3,
        "Core2": .sse3, "Penryn": .sse3, "Dunnington": .sse3, "Athlon": .sse3, "Opteron": .sse3,
        "Opteron_SSE3": .sse3, "Barcelona": .sse3, "Nano": .sse3,
        "Nehalem": .sse42,
        "Sandybridge": .avx, "Bulldozer": .avx, "Piledriver": .avx, "Steamroller": .avx, "Excavator": .avx,
        "Haswell": .avx2, "Zen": .avx2,
        "SkylakeX": .avx512, "Cooperlake": .avx512, "SapphireRapids": .avx512,
    ]

    /// The instructions a tier adds to the ones below it; a set at a tier uses those of every tier up to its own.
    static let tierInstructions: [Tier: Set<CPUFeatures.Feature>] = [
        .sse3: [.sse3], .sse42: [.ssse3, .sse41, .sse42], .avx: [.avx], .avx2: [.avx2, .fma],
        .avx512: [.avx512f, .avx512dq, .avx512bw, .avx512vl],
    ]

    /// Every instruction the tiers up to `tier` add.
    static func instructions(upTo tier: Tier) -> Set<CPUFeatures.Feature> {
        tierInstructions.filter { $0.key <= tier }.values.reduce(into: []) { $0.formUnion($1) }
    }

    /// Instructions beyond their tier's that sets use. OpenBLAS 0.3.21 picks these by CPU family alone, so QEMU's
    /// default model (family 15) gets Opteron kernels, and a family-21 model whose FMA4 the host filtered out gets
    /// Bulldozer's: both die of SIGILL at their first product.
    static let extraInstructions: [String: Set<CPUFeatures.Feature>] = [
        "Opteron": [.threeDNow], "Opteron_SSE3": [.threeDNow],
        "Bulldozer": [.fma4], "Piledriver": [.fma4], "Steamroller": [.fma4], "Excavator": [.fma4],
        "Cooperlake": [.avx512bf16],
    ]

    /// What `--blas-kernels` accepts: the sets that can be asked for by name, safest first.
    public static let selectable: [BLASKernelSet] = [.prescott, .nehalem, .sandybridge, .haswell, .zen, .skylakeX, .cooperlake, .sapphireRapids]

    public var tier: Tier? { Self.tiers[name] }

    /// The set of that name, matched without regard to case (OPENBLAS_CORETYPE is matched that way too).
    public static func named(_ text: String) -> BLASKernelSet? {
        selectable.first { $0.name.lowercased() == text.lowercased() }
    }

    /// Whether `cpu` has every instruction this set uses (false for a set the engine does not know).
    public func runs(on cpu: CPUFeatures) -> Bool {
        // Sapphire Rapids' set adds AMX and FP16, which CPUFeatures does not track: never chosen automatically.
        guard tier != nil, self != .sapphireRapids else { return false }
        return missingInstructions(on: cpu).isEmpty
    }

    /// The instructions this set uses and `cpu` lacks (none known for a set the engine does not know).
    public func missingInstructions(on cpu: CPUFeatures) -> Set<CPUFeatures.Feature> {
        let needed = (Self.extraInstructions[name] ?? []).union(tier.map(Self.instructions(upTo:)) ?? [])
        return needed.subtracting(cpu.features)
    }

    /// The highest tier `cpu` supports.
    public static func tier(of cpu: CPUFeatures) -> Tier {
        Tier.allCases.last { cpu.has(instructions(upTo: $0)) } ?? .sse3
    }

    /// The set the engine runs at `tier` on `cpu`'s vendor: OpenBLAS's Zen set is its Haswell kernels with AMD's
    /// cache sizes.
    public static func best(at tier: Tier, for cpu: CPUFeatures) -> BLASKernelSet {
        switch tier {
        case .avx512: .skylakeX
        case .avx2: cpu.vendor == .amd ? .zen : .haswell
        case .avx: .sandybridge
        case .sse42: .nehalem
        case .sse3: .prescott
        }
    }

    /// The next safer set after `self` fails its self-test: one tier down, or nil below SSE3.
    public func safer(for cpu: CPUFeatures) -> BLASKernelSet? {
        let current = min(tier ?? Self.tier(of: cpu), Self.tier(of: cpu))
        guard let lower = Tier(rawValue: current.rawValue - 1) else { return nil }
        return Self.best(at: lower, for: cpu)
    }
}
