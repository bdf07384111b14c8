import ArgumentParser
import Dispatch
import Foundation
import Glibc
import R2Plus1D
import Service
import Synchronization

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accuracy on a labelled set: clip- and video-level top-1/top-5, per-class accuracy, confusions, failures.",
        discussion: """
            DATA: a folder of <class>/<video>; a CSV or JSON list of path,label (or Kinetics' label,youtube_id,time_start,\
            time_end,split CSV); or r2plus1d_mindspore's cls2index.json with --list. Decodes and batches as serve does. \
            Ctrl-C stops starting videos, finishes those in flight and prints the partial result.
            """)

    @Argument(help: "The labelled videos.") var data: String
    @Option(help: "With a cls2index.json: the list of videos (CSV or JSON).") var list: String?
    @OptionGroup var blas: BLASOptions
    @OptionGroup var weights: WeightsOptions
    @Option(help: "Clips per video; video level averages their softmax.") var clips = 5
    @Option(help: "Class names, one per line, in the model's index order (default: the built-in Kinetics-400 names, for a 400-class model).")
    var labels: String?
    @Flag(help: "Leave out the videos of classes that match no label (they are counted as skipped) instead of refusing to start.")
    var skipUnmatched = false
    @Option(help: "Write the report as JSON here.") var json: String?
    @Option(help: "Write one CSV line per video here as it finishes.") var predictions: String?
    @Flag(help: "Continue from --predictions: videos it already holds are not run again, and count.") var resume = false
    @Option(help: "Most confused class pairs to list.") var confused = 10
    @Option(help: "Seconds between progress lines when stderr is not a terminal.") var progressEveryS = 10.0
    @Option(help: "Most clips per forward pass.") var maxBatch = Serve.defaults.batching.maxBatch
    @Option(help: "Decode threads (default: the cores available).") var decodeThreads = Serve.defaults.decodeThreads
    @Flag(help: "Decode in this process instead of sandboxed worker processes.") var decodeInProcess = false

    func validate() throws {
        guard clips >= 1, maxBatch >= 1, decodeThreads >= 1, confused >= 0, progressEveryS > 0 else {
            throw ValidationError("--clips, --max-batch and --decode-threads must be at least 1")
        }
        if resume && predictions == nil { throw ValidationError("--resume continues from a --predictions file: give one") }
    }

    func run() throws {
        let dataset: EvaluationDataset
        do { dataset = try EvaluationDataset.load(data, list: list) } catch let error as EvaluationError {
            throw ValidationError(error.description)
        }
        var configuration = ServiceConfiguration(weights: try weights.requiredSource(), labelsPath: labels)
        configuration.batching.maxBatch = maxBatch
        configuration.decodeThreads = decodeThreads
        configuration.decodeInWorkers = !decodeInProcess
        // Local files, no client waiting: a slow video is not a reason to give up on it.
        configuration.requestTimeoutSeconds = 600
        let runner: EvaluationRunner
        do { runner = try EvaluationRunner(configuration: configuration, clipsPerVideo: clips) } catch let error as CustomStringConvertible & Error {
            throw ValidationError(error.description)
        }
        defer { runner.shutdown() }
        let names = try labelNames(dataset, classes: runner.classes)
        let plan = try matched(dataset, names: names)
        var metrics = EvaluationMetrics(labels: names)
        var records: [String: EvaluationRecord] = [:]
        let output = try predictionsOutput(classes: runner.classes, into: &records)
        // Only this data's videos count: a predictions file of another set adds nothing but its lines.
        let planned = Set(plan.videos.map(\.item.path))
        for record in records.values where planned.contains(record.path) { metrics.add(record) }
        let todo = plan.videos.filter { records[$0.item.path] == nil }
        let resumed = plan.videos.count - todo.count
        FileHandle.standardError.write(Data((
            "evaluating \(todo.count) videos x \(clips) clips, \(names.count) classes"
            + (resumed > 0 ? " (\(resumed) done already, from \(predictions!))" : "")
            + (plan.skipped > 0 ? ", \(plan.skipped) skipped (unmatched classes)" : "") + "\n").utf8))

        let stop = StopFlag()
        let interrupts = Self.onInterrupt { count in
            if count == 1 {
                stop.set()
                FileHandle.standardError.write(Data("\ninterrupted: finishing the videos in flight, then the partial result (Ctrl-C again to quit now)\n".utf8))
            } else {
                Glibc.exit(130)
            }
        }
        let run = Run(metrics: metrics, records: records, output: output, total: todo.count,
                      terminal: isatty(STDERR_FILENO) == 1, every: progressEveryS)
        let clips = clips
        try runBlocking { [run] in
            await runner.run(todo, clips: clips, shouldStop: { stop.isSet }) { run.add($0) }
        }
        interrupts.cancel()
        run.finishProgress()
        let interrupted = stop.isSet
        let summary = run.metrics.summary(confusedPairs: confused, skipped: plan.skipped, interrupted: interrupted)
        print(Self.report(summary, seconds: run.seconds, clips: run.clips))
        if let json {
            let report = Report(summary: summary, weights: ModelInfo(source: configuration.weights).weights, clips_per_video: clips,
                                seconds: run.seconds, clips_per_second: run.seconds > 0 ? Double(run.clips) / run.seconds : 0,
                                videos: plan.videos.compactMap { run.records[$0.item.path] }.map(Report.Video.init))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            guard FileManager.default.createFile(atPath: json, contents: try encoder.encode(report)) else {
                throw ValidationError("cannot write \(json)")
            }
        }
        if interrupted { throw ExitCode(130) }
    }

    /// The model's class names: a cls2index.json's, else --labels or the built-in ones.
    private func labelNames(_ dataset: EvaluationDataset, classes: Int) throws -> [String] {
        guard let index = dataset.classIndex else {
            do { return try Labels(path: labels, classes: classes).names } catch let error as LabelsError {
                throw ValidationError(error.description)
            }
        }
        guard labels == nil else { throw ValidationError("\(data) names the classes already: drop --labels") }
        guard index.count == classes else {
            throw ValidationError(EvaluationError.classIndexCountMismatch(path: data, classes: index.count, modelClasses: classes).description)
        }
        return index
    }

    /// Every video with its class's index, before anything runs; unmatched classes refuse the run unless skipped.
    private func matched(_ dataset: EvaluationDataset, names: [String]) throws
        -> (videos: [(item: EvaluationDataset.Item, target: Int)], skipped: Int)
    {
        let matcher = ClassNameMatcher(labels: names)
        var videos: [(item: EvaluationDataset.Item, target: Int)] = []
        var unmatched: [String: Int] = [:]
        for item in dataset.items {
            if let target = matcher.index(of: item.className) { videos.append((item, target)) } else { unmatched[item.className, default: 0] += 1 }
        }
        guard !unmatched.isEmpty else { return (videos, 0) }
        let error = EvaluationError.unmatchedClasses(unmatched, labels: names.count)
        guard skipUnmatched else { throw ValidationError(error.description) }
        FileHandle.standardError.write(Data("warning: \(error.description)\n".utf8))
        return (videos, unmatched.values.reduce(0, +))
    }

    /// The predictions file, opened to append (after reading what it holds, with --resume) or started afresh.
    private func predictionsOutput(classes: Int, into records: inout [String: EvaluationRecord]) throws -> FileHandle? {
        guard let predictions else { return nil }
        if resume, let bytes = FileManager.default.contents(atPath: predictions), !bytes.isEmpty {
            do {
                for record in try PredictionsFile.records(String(decoding: bytes, as: UTF8.self), path: predictions, classes: classes) {
                    records[record.path] = record
                }
            } catch let error as EvaluationError {
                throw ValidationError(error.description)
            }
            // A last line cut short is dropped: rewrite the file as its complete lines.
            let kept = PredictionsFile.headerLine + records.values.sorted { $0.path < $1.path }.map(PredictionsFile.line).joined()
            guard FileManager.default.createFile(atPath: predictions, contents: Data(kept.utf8)) else {
                throw ValidationError("cannot write \(predictions)")
            }
        } else {
            guard FileManager.default.createFile(atPath: predictions, contents: Data(PredictionsFile.headerLine.utf8)) else {
                throw ValidationError("cannot write \(predictions)")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: predictions) else { throw ValidationError("cannot write \(predictions)") }
        handle.seekToEndOfFile()
        return handle
    }

    /// SIGINT counted on a dispatch queue instead of killing the process.
    private static func onInterrupt(_ handler: @escaping @Sendable (Int) -> Void) -> DispatchSourceSignal {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: DispatchQueue(label: "eval.sigint"))
        let count = Atomic<Int>(0)
        source.setEventHandler { handler(count.add(1, ordering: .relaxed).newValue) }
        source.resume()
        return source
    }

    static func report(_ s: EvaluationSummary, seconds: Double, clips: Int) -> String {
        func percent(_ value: Double) -> String { String(format: "%6.2f%%", value * 100) }
        var lines = [
            "videos: \(s.videos) (\(s.evaluated) evaluated, \(s.failed) failed, \(s.skipped) skipped)\(s.interrupted ? ", INTERRUPTED: partial result" : "")",
            "clip  top-1 \(percent(s.clip.top1))  top-5 \(percent(s.clip.top5))  (\(s.clip.count) clips)",
            "video top-1 \(percent(s.video.top1))  top-5 \(percent(s.video.top5))  (\(s.video.count) videos)",
            String(format: "this run: %d clips in %.1f s, %.2f clips/s", clips, seconds, seconds > 0 ? Double(clips) / seconds : 0),
            "per class (video top-1, top-5, videos):",
        ]
        lines += s.per_class.map { "  \(percent($0.top1)) \(percent($0.top5)) \(String(format: "%5d", $0.videos))  \($0.label)" }
        if !s.most_confused.isEmpty {
            lines.append("most confused (true -> predicted, videos):")
            lines += s.most_confused.map { "  \($0.label) -> \($0.predicted): \($0.videos)" }
        }
        if !s.failures.isEmpty {
            lines.append("failed videos:")
            lines += s.failures.map { "  \($0.path): \($0.error)" }
        }
        return lines.joined(separator: "\n")
    }

    final class StopFlag: Sendable {
        private let value = Atomic<Bool>(false)
        var isSet: Bool { value.load(ordering: .relaxed) }
        func set() { value.store(true, ordering: .relaxed) }
    }

    /// The `--json` file.
    struct Report: Encodable {
        struct Video: Encodable {
            let path: String, label: String, target: Int, top5: [Int], scores: [Double], clips: Int, clip_top1: Int, clip_top5: Int
            let error: String?
            init(_ r: EvaluationRecord) {
                (path, label, target, top5, scores, clips) = (r.path, r.className, r.target, r.top5, r.scores, r.clips)
                (clip_top1, clip_top5, error) = (r.clipTop1, r.clipTop5, r.error)
            }
        }
        let summary: EvaluationSummary
        let weights: String
        let clips_per_video: Int
        let seconds: Double
        let clips_per_second: Double
        let videos: [Video]
    }

    /// One run's state, touched only by the task that collects results (and read after it ends).
    final class Run: @unchecked Sendable {
        var metrics: EvaluationMetrics
        var records: [String: EvaluationRecord]
        let output: FileHandle?
        let total: Int
        let terminal: Bool
        let every: Double
        let start = DispatchTime.now().uptimeNanoseconds
        var done = 0, failed = 0, clips = 0
        var lastShown = 0.0

        init(metrics: EvaluationMetrics, records: [String: EvaluationRecord], output: FileHandle?, total: Int, terminal: Bool, every: Double) {
            (self.metrics, self.records, self.output, self.total, self.terminal, self.every) = (metrics, records, output, total, terminal, every)
        }

        private var finished: Double?
        /// Since the run started; after `finishProgress`, the run's length, so reports written later agree.
        var seconds: Double { finished ?? Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

        func add(_ record: EvaluationRecord) {
            metrics.add(record)
            records[record.path] = record
            output?.write(Data(PredictionsFile.line(record).utf8))
            done += 1
            clips += record.clips
            if record.failed { failed += 1 }
            let now = seconds
            if terminal ? now - lastShown >= 0.2 || done == total : now - lastShown >= every {
                lastShown = now
                show()
            }
        }

        func show() {
            let progress = EvaluationProgress(done: done, total: total, failed: failed, clips: clips, seconds: seconds)
            FileHandle.standardError.write(Data((terminal ? "\r" + progress.bar() + "\u{1B}[K" : progress.line + "\n").utf8))
        }

        func finishProgress() {
            finished = seconds
            show()
            if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
        }
    }
}
