import Foundation
import R2Plus1D

/// Files made by tools/make_fixtures.py with PyTorch and torchvision.
enum Fixtures {
    static func path(_ name: String) -> String {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(name)").path
    }

    static func bytes(_ name: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path(name)))
    }

    /// 'clips' [2,3,8,32,32] and torchvision's 'logits' [2,10] for the tiny network.
    static func tinyIO() throws -> (clips: Tensor, logits: Tensor) {
        let io = try Safetensors.read(path: path("tiny_io.safetensors")).tensors
        return (io["clips"]!, io["logits"]!)
    }
}
