/// Why a weight file could not be used. Every error names what is wrong so the message says what to fix.
///
/// A struct over a private enum, as swift-nio's errors are, so that a new kind of error is not a breaking change
/// for code that switches over the cases: compare with `==` against the static members instead
/// (`error == .missingTensor(name: "fc.weight")`).
public struct WeightError: Error, Equatable, CustomStringConvertible {
    private enum Kind: Equatable {
        case unreadable(path: String, reason: String)
        case unknownFormat(detail: String)
        case encrypted(detail: String)
        case truncated(detail: String)
        case corrupt(detail: String)
        case unsupportedDType(name: String, dtype: String)
        case missingTensor(name: String)
        case unexpectedTensor(name: String)
        case shapeMismatch(name: String, expected: [Int], got: [Int])
        case noWeightFile(directory: String)
    }

    private let kind: Kind

    private init(_ kind: Kind) { self.kind = kind }

    /// The file at `path` could not be read or written.
    public static func unreadable(path: String, reason: String) -> Self { Self(.unreadable(path: path, reason: reason)) }
    /// The bytes are no format this program reads.
    public static func unknownFormat(detail: String) -> Self { Self(.unknownFormat(detail: detail)) }
    /// The file is encrypted; `detail` says how to get a plain one.
    public static func encrypted(detail: String) -> Self { Self(.encrypted(detail: detail)) }
    /// The file ends before its contents do.
    public static func truncated(detail: String) -> Self { Self(.truncated(detail: detail)) }
    /// The file's structure is inconsistent.
    public static func corrupt(detail: String) -> Self { Self(.corrupt(detail: detail)) }
    /// Tensor `name` holds an element type other than float32, float16 or bfloat16.
    public static func unsupportedDType(name: String, dtype: String) -> Self { Self(.unsupportedDType(name: name, dtype: dtype)) }
    /// The model needs tensor `name` and the state dict lacks it.
    public static func missingTensor(name: String) -> Self { Self(.missingTensor(name: name)) }
    /// The state dict holds tensor `name`, which the model does not have.
    public static func unexpectedTensor(name: String) -> Self { Self(.unexpectedTensor(name: name)) }
    /// Tensor `name` has shape `got` where the model needs `expected` (-1 for a dimension not yet known).
    public static func shapeMismatch(name: String, expected: [Int], got: [Int]) -> Self {
        Self(.shapeMismatch(name: name, expected: expected, got: got))
    }
    /// No weight file in `directory`, an absolute path.
    public static func noWeightFile(directory: String) -> Self { Self(.noWeightFile(directory: directory)) }

    public var description: String {
        switch kind {
        case .unreadable(let path, let reason):
            "cannot read weight file \(path): \(reason)"
        case .unknownFormat(let detail):
            "not a weight file this program reads (safetensors, a PyTorch .pth state dict, zip or legacy, or a MindSpore .ckpt): \(detail)"
        case .encrypted(let detail):
            "the weight file is encrypted: \(detail)"
        case .truncated(let detail):
            "the weight file is truncated: \(detail); download it again"
        case .corrupt(let detail):
            "the weight file is corrupt: \(detail); download it again"
        case .unsupportedDType(let name, let dtype):
            "tensor '\(name)' has dtype \(dtype); only float32, float16 and bfloat16 weights are read"
        case .missingTensor(let name):
            "tensor '\(name)' is missing: is this an r2plus1d_18 state dict?"
        case .unexpectedTensor(let name):
            "tensor '\(name)' is not part of r2plus1d_18: is this the right model's state dict?"
        case .shapeMismatch(let name, let expected, let got):
            "tensor '\(name)' has shape \(got), expected \(expected)"
        case .noWeightFile(let directory):
            "no weight file (.pth, .safetensors or .ckpt) in \(directory), the weights/ folder of the working directory: "
                + "pass --weights FILE, put r2plus1d_18-91a641e6.pth there (scripts/fetch-weights.sh downloads it; see "
                + "weights/README.md), or run with --demo-weights to try it with meaningless predictions"
        }
    }
}
