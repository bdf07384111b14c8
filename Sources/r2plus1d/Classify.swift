import ArgumentParser
import Foundation
import R2Plus1D
import Service
import VideoDecode

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify videos offline; prints the same JSON as POST /classify.")

    @Argument(help: "Video files.") var videos: [String]
    @OptionGroup var blas: BLASOptions
    @OptionGroup var weights: WeightsOptions
    @Option(name: .customLong("top-k"), help: "Predictions per video.") var topK = 5
    @Option(help: "Clips per video; softmax averaged over them.") var clips = 1
    @Option(help: "Class names, one per line (default: the built-in Kinetics-400 names, for a 400-class model).")
    var labels: String?
    @Flag(help: "Print JSON (one object per video, one per line).") var json = false

    func validate() throws {
        guard topK >= 1, clips >= 1 else { throw ValidationError("--top-k and --clips must be at least 1") }
    }

    func run() throws {
        let source = try weights.requiredSource()
        let network = try weights.loadModel()
        let names = try Labels(path: labels, classes: network.architecture.classes)
        let model = ModelInfo(source: source)
        for video in videos {
            let bytes = try readVideo(video)
            let start = DispatchTime.now().uptimeNanoseconds
            let decoded: DecodedClips
            do { decoded = try ClipDecoder.decode(bytes, clips: clips) } catch let error as DecodeError {
                throw ValidationError("\(video): \(error)")
            }
            let decodedAt = DispatchTime.now().uptimeNanoseconds
            let logits = network.forward(Tensor(shape: decoded.shape, data: decoded.values))
            let end = DispatchTime.now().uptimeNanoseconds
            let classes = logits.shape[1]
            let perClip = (0..<decoded.clipCount).map { Array(logits.data[$0 * classes..<($0 + 1) * classes]) }
            let timing = Classification.Timing(decode: Double(decodedAt - start) / 1e6, queue: 0,
                                               inference: Double(end - decodedAt) / 1e6, total: Double(end - start) / 1e6)
            let result = Classification(logits: perClip, labels: names, topK: topK, decoded: decoded, model: model, timing: timing)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
            } else {
                print("\(video) (\(model.demo ? "DEMO weights: meaningless" : model.weights)):")
                for p in result.predictions { print(String(format: "  %6.2f%%  %@", p.score * 100, p.label)) }
            }
        }
    }
}
