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
        let model = ModelInfo(source: source)
        let pipeline = ClassificationPipeline(decode: { bytes, clips in try ClipDecoder.decode(bytes, clips: clips) },
                                              forward: ClassificationPipeline.direct(network),
                                              labels: try Labels(path: labels, classes: network.architecture.classes), model: model)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for video in videos {
            let bytes = try readVideo(video)
            let (clips, topK) = (clips, topK)
            let result: Classification
            do { result = try runBlocking { try await pipeline.classify(bytes, clips: clips, topK: topK) } } catch let error as DecodeError {
                throw ValidationError("\(video): \(error)")
            }
            if json {
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
            } else {
                print("\(video) (\(model.demo ? "DEMO weights: meaningless" : model.weights)):")
                for p in result.predictions { print(String(format: "  %6.2f%%  %@", p.score * 100, p.label)) }
            }
        }
    }
}
