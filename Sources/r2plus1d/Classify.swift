import ArgumentParser
import Foundation
import R2Plus1D
import Service
import VideoDecode

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify videos offline; prints the same JSON as POST /classify.",
        discussion: "Decodes in this process. --timeline adds what happens when: one answer per window and the segments they merge into.")

    @Argument(help: "Video files.") var videos: [String]
    @OptionGroup var blas: BLASOptions
    @OptionGroup var weights: WeightsOptions
    @Option(name: .customLong("top-k"), help: "Predictions per video (and per window).") var topK = 5
    @Option(help: "Clips per video; softmax averaged over them.") var clips = 1
    @Option(name: .customLong("start-s"), help: "Analyse from this second.") var startS: Double?
    @Option(name: .customLong("end-s"), help: "Analyse up to this second.") var endS: Double?
    @Flag(help: "A timeline: windows walked forward once, each classified as its own time range would be.") var timeline = false
    @Option(name: .customLong("window-s"), help: "Timeline window length (default: one clip, 16/15 s).") var windowS: Double?
    @Option(name: .customLong("stride-s"), help: "Timeline window spacing (default: the window).") var strideS: Double?
    @Option(help: "Timeline: a window's top label joins a segment from this probability.") var threshold = 0.5
    @Option(name: .customLong("min-segment-s"), help: "Timeline: shorter segments are dropped.") var minSegmentS = 0.0
    @Option(help: "Class names, one per line (default: the built-in Kinetics-400 names, for a 400-class model).")
    var labels: String?
    @Flag(help: "Print JSON (one object per video, one per line).") var json = false

    func validate() throws {
        guard topK >= 1, clips >= 1 else { throw ValidationError("--top-k and --clips must be at least 1") }
        guard (startS ?? 0) >= 0, (endS ?? .infinity) > (startS ?? 0) else { throw ValidationError("--start-s must be at least 0 and below --end-s") }
    }

    var timelineOptions: TimelineOptions {
        var options = TimelineOptions()
        if let windowS { options.windowSeconds = windowS }
        options.strideSeconds = strideS
        options.startSeconds = startS ?? 0
        options.endSeconds = endS
        options.threshold = threshold
        options.minSegmentSeconds = minSegmentS
        options.topK = topK
        return options
    }

    func run() throws {
        let source = try weights.requiredSource()
        let network = try weights.loadModel()
        let model = ModelInfo(source: source)
        let pipeline = ClassificationPipeline(decode: { bytes, clips, range in
                                                  try ClipDecoder.decode(bytes, clips: clips, range: range, limits: .allCores)
                                              },
                                              forward: ClassificationPipeline.direct(network),
                                              labels: try Labels(path: labels, classes: network.architecture.classes), model: model)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let range: ClosedRange<Double>? = startS != nil || endS != nil ? (startS ?? 0)...(endS ?? .greatestFiniteMagnitude) : nil
        for video in videos {
            let bytes = try readVideo(video)
            let (clips, topK) = (clips, topK)
            let result: Classification
            do {
                if timeline {
                    let (options, progress) = (timelineOptions, ProgressBar.onTerminal(label: "windows"))
                    result = try runBlocking {
                        try await pipeline.timeline(bytes, options: options, onWindow: { window, total in
                            progress?.update(done: window.index + 1, of: total)
                        })
                    }
                    progress?.finish()
                } else {
                    result = try runBlocking { try await pipeline.classify(bytes, clips: clips, topK: topK, range: range) }
                }
            } catch let error as DecodeError {
                throw ValidationError("\(video): \(error)")
            } catch let error as ServiceError {
                throw ValidationError(error.detail)
            }
            if json {
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
            } else {
                print("\(video) (\(model.demo ? "DEMO weights: meaningless" : model.weights)):")
                for p in result.predictions { print(String(format: "  %6.2f%%  %@", p.score * 100, p.label)) }
                if let windows = result.timeline { Self.printTimeline(windows, segments: result.segments ?? []) }
            }
        }
    }

    static func printTimeline(_ windows: [Timeline.Window], segments: [Timeline.Segment]) {
        print("  windows:")
        for w in windows {
            let top = w.predictions.first
            print(String(format: "  %8.2f %8.2f  %6.2f%%  %@", w.start_s, w.end_s, (top?.score ?? 0) * 100, top?.label ?? "-"))
        }
        print(segments.isEmpty ? "  segments: none above the threshold" : "  segments:")
        for s in segments { print(String(format: "  %8.2f %8.2f  %6.2f%%  %@", s.start_s, s.end_s, s.score * 100, s.label)) }
    }
}
