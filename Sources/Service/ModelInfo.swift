import R2Plus1D

/// How the service names its model everywhere it reports it. Demo weights always say "demo".
public struct ModelInfo: Sendable, Encodable {
    public var name = "r2plus1d_18"
    /// The weight file's name, or "demo".
    public var weights: String
    /// SHA-256 of the weight file; nil for demo weights.
    public var sha256: String?
    public var demo: Bool

    public init(source: WeightsSource, sha256: String?) {
        weights = source.displayName
        self.sha256 = sha256
        demo = source.isDemo
    }

    /// The model as `source` names it, with the SHA-256 of its file (nil for demo weights or an unreadable file).
    public init(source: WeightsSource) {
        var digest: String?
        if case .file(let path) = source { digest = try? sha256Hex(ofFile: path) }
        self.init(source: source, sha256: digest)
    }

    enum CodingKeys: String, CodingKey { case name, weights, sha256 }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(weights, forKey: .weights)
        try container.encode(sha256, forKey: .sha256)  // null, not absent, for demo weights
    }
}
