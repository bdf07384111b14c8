import R2Plus1D
import Testing

/// The kernel-set choice as a pure function of CPU, OpenBLAS's pick, environment and request; and the self-test.
@Suite struct BLASKernelChoiceTests {
    static let avx512: Set<CPUFeatures.Feature> = [.sse3, .ssse3, .sse41, .sse42, .avx, .fma, .avx2, .avx512f, .avx512dq, .avx512bw, .avx512vl]
    /// Family 6 model 207, where Debian's OpenBLAS 0.3.21 falls back to Prescott.
    static let emeraldRapids = CPUFeatures(vendor: .intel, family: 6, model: 207, features: avx512)
    static let zen3 = CPUFeatures(vendor: .amd, family: 25, model: 1, features: avx512.subtracting([.avx512f, .avx512dq, .avx512bw, .avx512vl]))
    static let zen4 = CPUFeatures(vendor: .amd, family: 25, model: 17, features: avx512.union([.avx512bf16]))

    @Test func weakerPickOnAVX512IsUpgradedToSkylakeX() throws {
        let plan = try BLASKernelChoice.plan(cpu: Self.emeraldRapids, openBLASPick: "Prescott", environment: nil, request: .auto)
        #expect(plan == .reload(BLASKernelChoice(kernels: .skylakeX, source: .upgraded(from: "Prescott"))))
    }

    @Test func weakerPickOnAVX2IsUpgradedByVendor() throws {
        let amd = try BLASKernelChoice.plan(cpu: Self.zen3, openBLASPick: "Sandybridge", environment: nil, request: .auto)
        #expect(amd == .reload(BLASKernelChoice(kernels: .zen, source: .upgraded(from: "Sandybridge"))))
        var intel = Self.zen3
        intel.vendor = .intel
        let haswell = try BLASKernelChoice.plan(cpu: intel, openBLASPick: "Prescott", environment: nil, request: .auto)
        #expect(haswell == .reload(BLASKernelChoice(kernels: .haswell, source: .upgraded(from: "Prescott"))))
    }

    @Test func pickAsStrongAsTheCPUIsKept() throws {
        #expect(try BLASKernelChoice.plan(cpu: Self.zen4, openBLASPick: "Cooperlake", environment: nil, request: .auto)
            == .keep(BLASKernelChoice(kernels: .cooperlake, source: .openBLAS)))
        #expect(try BLASKernelChoice.plan(cpu: Self.zen3, openBLASPick: "Zen", environment: nil, request: .auto)
            == .keep(BLASKernelChoice(kernels: .zen, source: .openBLAS)))
        // A newer OpenBLAS's name the engine does not know is trusted.
        #expect(try BLASKernelChoice.plan(cpu: Self.zen4, openBLASPick: "Zen5", environment: nil, request: .auto)
            == .keep(BLASKernelChoice(kernels: BLASKernelSet("Zen5"), source: .openBLAS)))
    }

    /// QEMU's default CPU model (AMD family 15 model 107), as KVM runs it on any current host: OpenBLAS takes it
    /// for an Opteron and picks kernels that use 3DNow!, which no CPU made since 2011 executes (SIGILL).
    static let qemu64 = CPUFeatures(vendor: .amd, family: 15, model: 107, features: [.sse3])
    /// QEMU's Opteron_G4 (family 21, Bulldozer) where the host filtered out FMA4: OpenBLAS still picks Bulldozer.
    static let opteronG4 = CPUFeatures(vendor: .amd, family: 21, model: 1, features: [.sse3, .ssse3, .sse41, .sse42, .avx])

    @Test func pickUsingInstructionsTheCPULacksIsReplaced() throws {
        #expect(try BLASKernelChoice.plan(cpu: Self.qemu64, openBLASPick: "Opteron_SSE3", environment: nil, request: .auto)
            == .reload(BLASKernelChoice(kernels: .prescott, source: .replaced(from: "Opteron_SSE3", missing: "3dnow"))))
        #expect(try BLASKernelChoice.plan(cpu: Self.opteronG4, openBLASPick: "Bulldozer", environment: nil, request: .auto)
            == .reload(BLASKernelChoice(kernels: .sandybridge, source: .replaced(from: "Bulldozer", missing: "fma4"))))
        // With AVX2 added to such a model, the weaker pick is upgraded as on any AVX2 CPU.
        var withAVX2 = Self.qemu64
        withAVX2.features.formUnion([.ssse3, .sse41, .sse42, .avx, .fma, .avx2])
        #expect(try BLASKernelChoice.plan(cpu: withAVX2, openBLASPick: "Opteron_SSE3", environment: nil, request: .auto)
            == .reload(BLASKernelChoice(kernels: .zen, source: .upgraded(from: "Opteron_SSE3"))))
    }

    @Test func pickIsKeptOnTheCPUsItWasWrittenFor() throws {
        var opteron = Self.qemu64
        opteron.features.insert(.threeDNow)
        #expect(try BLASKernelChoice.plan(cpu: opteron, openBLASPick: "Opteron_SSE3", environment: nil, request: .auto)
            == .keep(BLASKernelChoice(kernels: BLASKernelSet("Opteron_SSE3"), source: .openBLAS)))
        var bulldozer = Self.opteronG4
        bulldozer.features.insert(.fma4)
        #expect(try BLASKernelChoice.plan(cpu: bulldozer, openBLASPick: "Bulldozer", environment: nil, request: .auto)
            == .keep(BLASKernelChoice(kernels: BLASKernelSet("Bulldozer"), source: .openBLAS)))
        #expect(BLASKernelSet("Opteron").runs(on: opteron) && !BLASKernelSet("Opteron").runs(on: Self.qemu64))
        #expect(BLASKernelSet("Piledriver").runs(on: bulldozer) && !BLASKernelSet("Piledriver").runs(on: Self.opteronG4))
    }

    @Test func operatorsCoreTypeIsRespected() throws {
        let plan = try BLASKernelChoice.plan(cpu: Self.emeraldRapids, openBLASPick: "Haswell", environment: "Haswell", request: .auto)
        #expect(plan == .keep(BLASKernelChoice(kernels: .haswell, source: .environment)))
        // An empty variable is no pin.
        #expect(try BLASKernelChoice.plan(cpu: Self.emeraldRapids, openBLASPick: "Prescott", environment: "", request: .auto)
            == .reload(BLASKernelChoice(kernels: .skylakeX, source: .upgraded(from: "Prescott"))))
    }

    /// A pin the CPU cannot run (a manifest written for other nodes) would die of SIGILL at the first product, as
    /// OpenBLAS loads a pinned set unchecked: it gives way to the CPU's best set, never above the pin's tier.
    @Test func pinTheCPUCannotRunIsReplaced() throws {
        #expect(try BLASKernelChoice.plan(cpu: Self.zen3, openBLASPick: "SkylakeX", environment: "skylakex", request: .auto)
            == .reload(BLASKernelChoice(kernels: .zen, source: .pinReplaced(pin: "skylakex", missing: "avx512f avx512dq avx512bw avx512vl"))))
        let nehalem = CPUFeatures(vendor: .intel, family: 6, model: 26, features: [.sse3, .ssse3, .sse41, .sse42])
        #expect(try BLASKernelChoice.plan(cpu: nehalem, openBLASPick: "Haswell", environment: "Haswell", request: .auto)
            == .reload(BLASKernelChoice(kernels: .nehalem, source: .pinReplaced(pin: "Haswell", missing: "avx fma avx2"))))
        #expect(try BLASKernelChoice.plan(cpu: Self.qemu64, openBLASPick: "Opteron", environment: "Opteron", request: .auto)
            == .reload(BLASKernelChoice(kernels: .prescott, source: .pinReplaced(pin: "Opteron", missing: "3dnow"))))
        // A runnable pin stays, weaker or not; so does one the engine does not know.
        #expect(try BLASKernelChoice.plan(cpu: Self.zen4, openBLASPick: "Cooperlake", environment: "Cooperlake", request: .auto)
            == .keep(BLASKernelChoice(kernels: .cooperlake, source: .environment)))
        #expect(try BLASKernelChoice.plan(cpu: Self.zen3, openBLASPick: "Zen5", environment: "Zen5", request: .auto)
            == .keep(BLASKernelChoice(kernels: BLASKernelSet("Zen5"), source: .environment)))
    }

    @Test func instructionsASetNeedsAccumulateOverTiers() {
        #expect(BLASKernelSet.skylakeX.missingInstructions(on: Self.zen4).isEmpty)
        #expect(BLASKernelSet.cooperlake.missingInstructions(on: Self.emeraldRapids) == [.avx512bf16])
        #expect(BLASKernelSet.haswell.missingInstructions(on: CPUFeatures(vendor: .intel, features: [.sse3, .avx]))
            == [.ssse3, .sse41, .sse42, .fma, .avx2])
        #expect(!BLASKernelSet.cooperlake.runs(on: Self.emeraldRapids) && BLASKernelSet.cooperlake.runs(on: Self.zen4))
    }

    /// A pin weaker than the CPU is kept, but the operator is told what the CPU runs.
    @Test func aWeakerPinNamesTheStrongerSet() throws {
        let pinned = BLASKernelChoice(kernels: .haswell, source: .environment)
        #expect(pinned.strongerSet(on: Self.emeraldRapids) == .skylakeX)
        #expect(pinned.strongerSet(on: Self.zen3) == nil)
        #expect(BLASKernelChoice(kernels: .skylakeX, source: .environment).strongerSet(on: Self.emeraldRapids) == nil)
        // Only a pin: a set chosen any other way is already the CPU's best or the operator's word.
        #expect(BLASKernelChoice(kernels: .haswell, source: .option).strongerSet(on: Self.emeraldRapids) == nil)
        #expect(BLASKernelChoice(kernels: .haswell, source: .fallback(from: "SkylakeX", reason: "x")).strongerSet(on: Self.emeraldRapids) == nil)
        // A pinned name the engine does not know says nothing.
        #expect(BLASKernelChoice(kernels: BLASKernelSet("Zen5"), source: .environment).strongerSet(on: Self.zen4) == nil)
    }

    @Test func optionOverridesWhenTheCPURunsIt() throws {
        #expect(try BLASKernelChoice.plan(cpu: Self.emeraldRapids, openBLASPick: "Prescott", environment: "Haswell", request: .named(.skylakeX))
            == .reload(BLASKernelChoice(kernels: .skylakeX, source: .option)))
        #expect(try BLASKernelChoice.plan(cpu: Self.zen3, openBLASPick: "Zen", environment: nil, request: .named(.zen))
            == .keep(BLASKernelChoice(kernels: .zen, source: .option)))
        #expect(throws: BLASKernelError.unsupported(.skylakeX, cpu: Self.zen3)) {
            try BLASKernelChoice.plan(cpu: Self.zen3, openBLASPick: "Zen", environment: nil, request: .named(.skylakeX))
        }
        #expect(throws: BLASKernelError.unsupported(.cooperlake, cpu: Self.emeraldRapids)) {
            try BLASKernelChoice.plan(cpu: Self.emeraldRapids, openBLASPick: "Prescott", environment: nil, request: .named(.cooperlake))
        }
    }

    @Test func requestParsing() throws {
        #expect(try BLASKernelChoice.Request(parsing: "auto") == .auto)
        #expect(try BLASKernelChoice.Request(parsing: "skylakex") == .named(.skylakeX))
        #expect(throws: BLASKernelError.unknownName("AVX9")) { try BLASKernelChoice.Request(parsing: "AVX9") }
    }

    @Test func failedSelfTestFallsBackOneTierAtATime() throws {
        var choice = BLASKernelChoice(kernels: .skylakeX, source: .upgraded(from: "Prescott"))
        var visited: [String] = []
        while let next = try? BLASKernelChoice.fallback(after: choice, reason: "wrong", cpu: Self.emeraldRapids) {
            #expect(next.source == .fallback(from: choice.kernels.name, reason: "wrong"))
            visited.append(next.kernels.name)
            choice = next
        }
        #expect(visited == ["Haswell", "Sandybridge", "Nehalem", "Prescott"])
        #expect(throws: BLASKernelError.selfTestFailed(.prescott, reason: "wrong")) {
            try BLASKernelChoice.fallback(after: choice, reason: "wrong", cpu: Self.emeraldRapids)
        }
        #expect(try BLASKernelChoice.fallback(after: BLASKernelChoice(kernels: .cooperlake, source: .openBLAS), reason: "x", cpu: Self.zen4)
            == BLASKernelChoice(kernels: .zen, source: .fallback(from: "Cooperlake", reason: "x")))
    }

    @Test(arguments: [
        BLASKernelChoice(kernels: .skylakeX, source: .upgraded(from: "Prescott")),
        BLASKernelChoice(kernels: .haswell, source: .fallback(from: "SkylakeX", reason: "C[1, 2] is 3|4")),
        BLASKernelChoice(kernels: .zen, source: .option),
        BLASKernelChoice(kernels: .haswell, source: .environment),
        BLASKernelChoice(kernels: .cooperlake, source: .openBLAS),
        BLASKernelChoice(kernels: .prescott, source: .replaced(from: "Opteron_SSE3", missing: "3dnow")),
        BLASKernelChoice(kernels: .zen, source: .pinReplaced(pin: "SkylakeX", missing: "avx512f avx512dq avx512bw avx512vl")),
    ])
    func markerRoundTrips(_ choice: BLASKernelChoice) {
        #expect(BLASKernelChoice(marker: choice.marker) == choice)
    }

    @Test func markerRejectsOtherText() {
        #expect(BLASKernelChoice(marker: "Haswell") == nil)
        #expect(BLASKernelChoice(marker: "Haswell|upgraded") == nil)
        #expect(BLASKernelChoice(marker: "|option") == nil)
    }

    @Test func loadedKernelsPassTheSelfTest() {
        #expect(BLASSelfTest.run() == nil)
    }

    @Test func selfTestCatchesAWrongProduct() {
        // One element off, as a miscompiled edge kernel would leave it.
        let offByOne: BLASSelfTest.Product = { m, n, k, a, b, c, beta, transposedB in
            BLASSelfTest.openBLAS(m, n, k, a, b, c, beta, transposedB)
            if m * n > 7 { c[7] += 0.01 }
        }
        #expect(BLASSelfTest.run(offByOne)?.contains("C[0, 7]") == true)
        // Beta ignored: an accumulating product that overwrites.
        let noBeta: BLASSelfTest.Product = { m, n, k, a, b, c, _, transposedB in
            BLASSelfTest.openBLAS(m, n, k, a, b, c, 0, transposedB)
        }
        #expect(BLASSelfTest.run(noBeta) != nil)
    }

    @Test func thisCPUIsReadAndItsPickIsRunnable() {
        let cpu = CPUFeatures.current
        #expect(cpu.has([.sse3]))
        let loaded = BLASKernelSet(BLASKernels.loaded)
        if loaded.tier != nil, loaded != .sapphireRapids { #expect(loaded.runs(on: cpu), "\(loaded) on \(cpu)") }
    }
}
