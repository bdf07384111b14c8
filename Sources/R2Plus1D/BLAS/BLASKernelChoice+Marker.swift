extension BLASKernelChoice {
    /// The choice as one line, "NAME|SOURCE[|DETAIL[|REASON]]", to hand to the process that loads it.
    public var marker: String {
        let name = kernels.name
        switch source {
        case .openBLAS: return "\(name)|openblas"
        case .environment: return "\(name)|environment"
        case .pinReplaced(let pin, let missing): return "\(name)|pinreplaced|\(pin)|\(missing)"
        case .option: return "\(name)|option"
        case .upgraded(let weaker): return "\(name)|upgraded|\(weaker)"
        case .replaced(let unrunnable, let missing): return "\(name)|replaced|\(unrunnable)|\(missing)"
        case .fallback(let failed, let reason): return "\(name)|fallback|\(failed)|\(reason)"
        }
    }

    /// The choice `marker` wrote, or nil for text it did not write.
    public init?(marker: String) {
        let parts = marker.split(separator: "|", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, !parts[0].isEmpty else { return nil }
        let kernels = BLASKernelSet(parts[0])
        switch (parts[1], parts.count) {
        case ("openblas", 2): self.init(kernels: kernels, source: .openBLAS)
        case ("environment", 2): self.init(kernels: kernels, source: .environment)
        case ("pinreplaced", 4): self.init(kernels: kernels, source: .pinReplaced(pin: parts[2], missing: parts[3]))
        case ("option", 2): self.init(kernels: kernels, source: .option)
        case ("upgraded", 3): self.init(kernels: kernels, source: .upgraded(from: parts[2]))
        case ("replaced", 4): self.init(kernels: kernels, source: .replaced(from: parts[2], missing: parts[3]))
        case ("fallback", 4): self.init(kernels: kernels, source: .fallback(from: parts[2], reason: parts[3]))
        default: return nil
        }
    }
}
