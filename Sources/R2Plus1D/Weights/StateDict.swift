/// Named tensors as a PyTorch `state_dict()` holds them (names like `layer2.0.conv1.0.0.weight`).
public struct StateDict: Sendable {
    public var tensors: [String: Tensor]

    public init(_ tensors: [String: Tensor] = [:]) {
        self.tensors = tensors
    }

    public subscript(name: String) -> Tensor? {
        get { tensors[name] }
        set { tensors[name] = newValue }
    }

    public var names: [String] { tensors.keys.sorted() }

    /// The tensor called `name`, which must have `shape`.
    /// - Throws: `WeightError.missingTensor` or `.shapeMismatch`.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        guard let t = tensors[name] else { throw WeightError.missingTensor(name: name) }
        guard t.shape == shape else { throw WeightError.shapeMismatch(name: name, expected: shape, got: t.shape) }
        return t
    }

    /// The shape of `name`, which must have `rank` dimensions.
    /// - Throws: `WeightError.missingTensor` or `.shapeMismatch` (with -1 for dimensions not yet known).
    public func shape(of name: String, rank: Int) throws -> [Int] {
        guard let t = tensors[name] else { throw WeightError.missingTensor(name: name) }
        guard t.shape.count == rank else {
            throw WeightError.shapeMismatch(name: name, expected: [Int](repeating: -1, count: rank), got: t.shape)
        }
        return t.shape
    }
}
