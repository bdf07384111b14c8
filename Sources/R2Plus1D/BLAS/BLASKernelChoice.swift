/// Which OpenBLAS kernel set the engine runs and why: a pure function of the CPU, OpenBLAS's own pick, the
/// environment and the operator's request, so every case is tested without the CPU in question.
///
/// Debian's OpenBLAS 0.3.21 does not know CPUs newer than it (Sapphire, Emerald and Granite Rapids, Zen 5) and
/// falls back to its SSE3 Prescott kernels on them, at a third of the speed. The engine then asks for the best set
/// the CPU runs, unless an operator pinned one: some machines set OPENBLAS_CORETYPE on purpose, because older
/// OpenBLAS builds miscompute with AVX-512 on some CPUs.
public struct BLASKernelChoice: Sendable, Equatable, CustomStringConvertible {
    public enum Request: Sendable, Equatable {
        case auto
        case named(BLASKernelSet)

        /// `auto` or a kernel set's name.
        /// - Throws: `BLASKernelError.unknownName` for any other text.
        public init(parsing text: String) throws(BLASKernelError) {
            if text.lowercased() == "auto" { self = .auto; return }
            guard let set = BLASKernelSet.named(text) else { throw .unknownName(text) }
            self = .named(set)
        }
    }

    public enum Source: Sendable, Equatable {
        /// OpenBLAS's own pick, as strong as the CPU allows.
        case openBLAS
        /// OpenBLAS picked a weaker set than the CPU runs.
        case upgraded(from: String)
        /// OpenBLAS picked a set that uses instructions the CPU lacks (named in `missing`, space-separated).
        case replaced(from: String, missing: String)
        /// The operator's OPENBLAS_CORETYPE.
        case environment
        /// The operator's OPENBLAS_CORETYPE named a set that uses instructions the CPU lacks (`missing`).
        case pinReplaced(pin: String, missing: String)
        /// `--blas-kernels NAME`.
        case option
        /// The set chosen before failed the start-up self-test.
        case fallback(from: String, reason: String)
    }

    /// What to do at start-up.
    public enum Plan: Sendable, Equatable {
        /// The kernels OpenBLAS loaded with are the ones to run.
        case keep(BLASKernelChoice)
        /// OpenBLAS must be loaded again with OPENBLAS_CORETYPE set to `choice.kernels` (it reads the variable only
        /// when it initialises, so the process executes itself again).
        case reload(BLASKernelChoice)
    }

    public var kernels: BLASKernelSet
    public var source: Source

    public init(kernels: BLASKernelSet, source: Source) {
        self.kernels = kernels
        self.source = source
    }

    /// How it was chosen, in words for the log and `/v1/model`.
    public var how: String {
        switch source {
        case .openBLAS: "OpenBLAS's own choice"
        case .upgraded(let weaker): "chosen from CPUID: OpenBLAS picked \(weaker), weaker than this CPU runs"
        case .replaced(let unrunnable, let missing):
            "chosen from CPUID: OpenBLAS picked \(unrunnable), whose kernels use \(missing), which this CPU lacks"
        case .environment: "OPENBLAS_CORETYPE"
        case .pinReplaced(let pin, let missing):
            "chosen from CPUID: OPENBLAS_CORETYPE=\(pin) needs \(missing), which this CPU lacks"
        case .option: "--blas-kernels"
        case .fallback(let failed, let reason): "\(failed) failed the start-up self-test (\(reason))"
        }
    }

    /// A one-word label for metrics.
    public var sourceLabel: String {
        switch source {
        case .openBLAS: "openblas"
        case .upgraded, .replaced, .pinReplaced: "cpuid"
        case .environment: "environment"
        case .option: "option"
        case .fallback: "fallback"
        }
    }

    public var description: String { "\(kernels) (\(how))" }

    /// The strongest set `cpu` runs when an operator's OPENBLAS_CORETYPE pinned a weaker one (a pin is kept, but
    /// the operator should hear what it costs); nil otherwise.
    public func strongerSet(on cpu: CPUFeatures) -> BLASKernelSet? {
        guard source == .environment, let pinned = kernels.tier else { return nil }
        let best = BLASKernelSet.tier(of: cpu)
        return pinned < best ? .best(at: best, for: cpu) : nil
    }

    /// - Parameters:
    ///   - cpu: the CPU's extensions.
    ///   - openBLASPick: the set OpenBLAS loaded with (`openblas_get_corename`).
    ///   - environment: OPENBLAS_CORETYPE as the operator set it, nil when unset or empty.
    ///   - request: `--blas-kernels`.
    /// - Throws: `BLASKernelError.unsupported` when the requested set needs instructions the CPU lacks.
    public static func plan(cpu: CPUFeatures, openBLASPick: String, environment: String?,
                            request: Request) throws(BLASKernelError) -> Plan {
        let loaded = BLASKernelSet(openBLASPick)
        if case .named(let wanted) = request {
            guard wanted.runs(on: cpu) else { throw .unsupported(wanted, cpu: cpu) }
            let choice = BLASKernelChoice(kernels: wanted, source: .option)
            return loaded == wanted ? .keep(choice) : .reload(choice)
        }
        let cpuTier = BLASKernelSet.tier(of: cpu)
        let missing = loaded.missingInstructions(on: cpu)
        if let environment, !environment.isEmpty {
            // A pin is kept unless it cannot run here: then the CPU's best set, never above the pin's tier.
            guard let pinned = loaded.tier, !missing.isEmpty else {
                return .keep(BLASKernelChoice(kernels: loaded, source: .environment))
            }
            return .reload(BLASKernelChoice(kernels: .best(at: min(pinned, cpuTier), for: cpu),
                                            source: .pinReplaced(pin: environment, missing: Self.names(missing))))
        }
        if let loadedTier = loaded.tier, loadedTier < cpuTier {
            return .reload(BLASKernelChoice(kernels: .best(at: cpuTier, for: cpu), source: .upgraded(from: openBLASPick)))
        }
        if !missing.isEmpty {
            return .reload(BLASKernelChoice(kernels: .best(at: cpuTier, for: cpu),
                                            source: .replaced(from: openBLASPick, missing: Self.names(missing))))
        }
        return .keep(BLASKernelChoice(kernels: loaded, source: .openBLAS))
    }

    private static func names(_ features: Set<CPUFeatures.Feature>) -> String {
        features.sorted().map(\.rawValue).joined(separator: " ")
    }

    /// After `failed` did not pass the self-test: the next safer set, to be loaded.
    /// - Throws: `BLASKernelError.selfTestFailed` when there is no safer set.
    public static func fallback(after failed: BLASKernelChoice, reason: String, cpu: CPUFeatures) throws(BLASKernelError) -> BLASKernelChoice {
        guard let safer = failed.kernels.safer(for: cpu) else { throw .selfTestFailed(failed.kernels, reason: reason) }
        return BLASKernelChoice(kernels: safer, source: .fallback(from: failed.kernels.name, reason: reason))
    }
}

/// Why no kernel set could be chosen.
///
/// A struct over a private enum, as swift-nio's errors are, so that a new kind of error is not a breaking change:
/// compare with `==` against the static members (`error == .unknownName("AVX9")`).
public struct BLASKernelError: Error, Equatable, CustomStringConvertible {
    private enum Kind: Equatable {
        case unknownName(String)
        case unsupported(BLASKernelSet, cpu: CPUFeatures)
        case notAvailable(BLASKernelSet, loaded: String)
        case selfTestFailed(BLASKernelSet, reason: String)
    }

    private let kind: Kind

    private init(_ kind: Kind) { self.kind = kind }

    /// `text` is neither `auto` nor a kernel set's name.
    public static func unknownName(_ text: String) -> Self { Self(.unknownName(text)) }
    /// `set` needs instructions `cpu` lacks.
    public static func unsupported(_ set: BLASKernelSet, cpu: CPUFeatures) -> Self { Self(.unsupported(set, cpu: cpu)) }
    /// OpenBLAS was asked for `set` and loaded `loaded` instead.
    public static func notAvailable(_ set: BLASKernelSet, loaded: String) -> Self { Self(.notAvailable(set, loaded: loaded)) }
    /// `set` failed the start-up self-test and no safer set is left.
    public static func selfTestFailed(_ set: BLASKernelSet, reason: String) -> Self { Self(.selfTestFailed(set, reason: reason)) }

    public var description: String {
        let names = BLASKernelSet.selectable.map(\.name).joined(separator: ", ")
        switch kind {
        case .unknownName(let text):
            return "unknown --blas-kernels value '\(text)': give auto or one of \(names)"
        case .unsupported(let set, let cpu):
            return "this CPU cannot run OpenBLAS's \(set) kernels (\(cpu)); use --blas-kernels auto"
        case .notAvailable(let set, let loaded):
            return "this OpenBLAS has no \(set) kernels (it loaded \(loaded) instead); use --blas-kernels auto or another set"
        case .selfTestFailed(let set, let reason):
            return "OpenBLAS's \(set) kernels failed the start-up self-test (\(reason)) and no safer set is left; "
                + "the OpenBLAS library is broken on this machine: reinstall libopenblas0 or try another build"
        }
    }
}
