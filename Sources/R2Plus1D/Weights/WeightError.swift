/// Why a weight file could not be used. Every case names what is wrong so the message says what to fix.
public enum WeightError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case unknownFormat(detail: String)
    case truncated(detail: String)
    case corrupt(detail: String)
    case unsupportedDType(name: String, dtype: String)
    case missingTensor(name: String)
    case unexpectedTensor(name: String)
    case shapeMismatch(name: String, expected: [Int], got: [Int])
    /// No weight file in `directory`, an absolute path.
    case noWeightFile(directory: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            "cannot read weight file \(path): \(reason)"
        case .unknownFormat(let detail):
            "not a weight file this program reads (safetensors, or a PyTorch .pth state dict, zip or legacy): \(detail)"
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
            "no weight file (.pth or .safetensors) in \(directory), the weights/ folder of the working directory: "
                + "pass --weights FILE, put r2plus1d_18-91a641e6.pth there (scripts/fetch-weights.sh downloads it; see "
                + "weights/README.md), or run with --demo-weights to try it with meaningless predictions"
        }
    }
}
