import Foundation
import Testing
import TestSupport

/// `r2plus1d eval` end to end on the committed set (tools/make_eval_fixtures.sh) against what torchvision makes of
/// the same files and clips (tools/eval_reference.py, eval_expected.json).
@Suite(.serialized) struct EvalCommandTests {
    static let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures").path
    static let data = fixtures + "/kinetics"
    static let weights = fixtures + "/eval_tiny.safetensors"
    static let labels = fixtures + "/eval_labels.txt"

    struct Expected: Decodable {
        struct Counts: Decodable { let videos, failed, clips, clip_top1, clip_top5, video_top1, video_top5: Int }
        struct Video: Decodable { let path: String, target: Int, probabilities: [Double], top5: [Int], clip_top1: Int, clip_top5: Int }
        struct Failure: Decodable { let path: String }
        let clips: Int
        let counts: Counts
        let videos: [Video]
        let failures: [Failure]
    }

    struct Report: Decodable {
        struct Accuracy: Decodable { let count, top1_correct, top5_correct: Int; let top1, top5: Double }
        struct Failure: Decodable { let path, error: String }
        struct Summary: Decodable { let videos, evaluated, failed: Int; let clip, video: Accuracy; let failures: [Failure] }
        struct Video: Decodable { let path: String, target: Int, top5: [Int], scores: [Double], clips, clip_top1, clip_top5: Int; let error: String? }
        let summary: Summary
        let videos: [Video]
    }

    static func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: fixtures + "/eval_expected.json")))
    }

    /// Runs the executable; returns its exit status, stdout and stderr (through files, so neither pipe can fill).
    static func eval(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let folder = try TemporaryFolder()
        try folder.write("out", "")
        try folder.write("err", "")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executable.r2plus1d)
        process.arguments = ["eval"] + arguments + ["--weights", weights, "--decode-threads", "2"]
        process.standardOutput = FileHandle(forWritingAtPath: folder.file("out"))
        process.standardError = FileHandle(forWritingAtPath: folder.file("err"))
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOfFile: folder.file("out"), encoding: .utf8),
                try String(contentsOfFile: folder.file("err"), encoding: .utf8))
    }

    func check(_ report: Report, against expected: Expected, root: String) {
        let c = expected.counts
        #expect(report.summary.evaluated == c.videos && report.summary.failed == c.failed)
        #expect(report.summary.clip.count == c.clips)
        #expect(report.summary.clip.top1_correct == c.clip_top1 && report.summary.clip.top5_correct == c.clip_top5)
        #expect(report.summary.video.top1_correct == c.video_top1 && report.summary.video.top5_correct == c.video_top5)
        #expect(report.summary.failures.map(\.path) == expected.failures.map { root + "/" + $0.path })
        let ours = Dictionary(report.videos.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        for video in expected.videos {
            guard let mine = ours[root + "/" + video.path] else {
                Issue.record("\(video.path) missing from the report")
                continue
            }
            #expect(mine.target == video.target && mine.top5 == video.top5, "\(video.path)")
            #expect(mine.clips == expected.clips && mine.clip_top1 == video.clip_top1 && mine.clip_top5 == video.clip_top5, "\(video.path)")
            // The engine's float32 (Winograd, batched or not) against torch's, through a head that magnifies feature
            // differences; eval_reference.py keeps every deciding gap at twice this, so no count can turn on it.
            for (index, score) in zip(mine.top5, mine.scores) {
                #expect(abs(score - video.probabilities[index]) < 1e-3, "\(video.path) class \(index): \(score) vs \(video.probabilities[index])")
            }
        }
    }

    @Test func aKineticsFolderGivesTorchvisionsNumbersAndListsTheBrokenVideo() throws {
        let expected = try Self.expected()
        let out = try TemporaryFolder()
        let result = try Self.eval([Self.data, "--labels", Self.labels, "--clips", "\(expected.clips)", "--json", out.file("r.json"),
                                    "--predictions", out.file("p.csv")])
        #expect(result.status == 0, "\(result.err)")
        let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: out.file("r.json"))))
        check(report, against: expected, root: Self.data)
        #expect(result.out.contains("failed videos:") && result.out.contains("broken.mp4"))
        #expect(result.out.contains("video top-1"))
        // One line per video after the header.
        let lines = try String(contentsOfFile: out.file("p.csv"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1 + expected.counts.videos + expected.counts.failed)
    }

    @Test func csvAndJSONListsOfTheSameVideosGiveTheSameNumbers() throws {
        let expected = try Self.expected()
        let out = try TemporaryFolder()
        let all = expected.videos.map { ($0.path, $0.path.split(separator: "/")[0]) } + expected.failures.map { ($0.path, $0.path.split(separator: "/")[0]) }
        let csv = "path,label\n" + all.map { "\"\(Self.data)/\($0.0)\",\"\($0.1)\"\n" }.joined()
        let json = try JSONSerialization.data(withJSONObject: all.map { ["path": "\(Self.data)/\($0.0)", "label": String($0.1)] })
        try out.write("list.csv", csv)
        try out.write("list.json", String(decoding: json, as: UTF8.self))
        for list in ["list.csv", "list.json"] {
            let result = try Self.eval([out.file(list), "--labels", Self.labels, "--clips", "\(expected.clips)", "--json", out.file("r.json")])
            #expect(result.status == 0, "\(result.err)")
            let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: out.file("r.json"))))
            check(report, against: expected, root: Self.data)
        }
    }

    @Test func resumeRunsOnlyWhatThePredictionsFileLacks() throws {
        let expected = try Self.expected()
        let out = try TemporaryFolder()
        let first = try Self.eval([Self.data, "--labels", Self.labels, "--clips", "\(expected.clips)", "--predictions", out.file("p.csv")])
        #expect(first.status == 0, "\(first.err)")
        // Keep the header and four videos, a video of another set (kept in the file, never counted), and a fifth
        // video cut short as a killed run leaves it.
        let lines = try String(contentsOfFile: out.file("p.csv"), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let foreign = "/elsewhere/x.mp4,yoga,7,7 1 2 3 4,0.9 0.04 0.03 0.02 0.01,3,3,3,"
        let kept = lines[0..<5].joined(separator: "\n") + "\n" + foreign + "\n" + lines[5].prefix(12)
        try out.write("p.csv", kept)
        let resumed = try Self.eval([Self.data, "--labels", Self.labels, "--clips", "\(expected.clips)", "--predictions", out.file("p.csv"),
                                     "--resume", "--json", out.file("r.json")])
        #expect(resumed.status == 0, "\(resumed.err)")
        let total = expected.counts.videos + expected.counts.failed
        #expect(resumed.err.contains("evaluating \(total - 4) videos") && resumed.err.contains("4 done already"), "\(resumed.err)")
        let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: out.file("r.json"))))
        check(report, against: expected, root: Self.data)
        let after = try String(contentsOfFile: out.file("p.csv"), encoding: .utf8).split(separator: "\n")
        #expect(after.count == 1 + total + 1)
    }

    @Test func unmatchedClassesAreNamedBeforeTheRunAndNeverDroppedSilently() throws {
        let out = try TemporaryFolder()
        try out.write("list.csv", "\(Self.data)/Tai_Chi/a.mp4,tai chi\n\(Self.data)/Tai_Chi/b.mp4,Kung Fu\n\(Self.data)/Tai_Chi/c.mp4,kung_fu\n")
        let refused = try Self.eval([out.file("list.csv"), "--labels", Self.labels, "--clips", "1"])
        #expect(refused.status != 0)
        #expect(refused.err.contains("'Kung Fu' (1 video)") && refused.err.contains("'kung_fu' (1 video)"), "\(refused.err)")
        #expect(!refused.err.contains("evaluating"))
        let skipped = try Self.eval([out.file("list.csv"), "--labels", Self.labels, "--clips", "1", "--skip-unmatched", "--json", out.file("r.json")])
        #expect(skipped.status == 0, "\(skipped.err)")
        #expect(skipped.out.contains("1 evaluated, 0 failed, 2 skipped"), "\(skipped.out)")
    }

    @Test func aClassIndexWithTheSeedsListNamesTheClasses() throws {
        let out = try TemporaryFolder()
        let labels = try String(contentsOfFile: Self.labels, encoding: .utf8).split(separator: "\n").map(String.init)
        let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
        try out.write("cls2index.json", String(decoding: try JSONSerialization.data(withJSONObject: index), as: UTF8.self))
        try FileManager.default.createDirectory(atPath: out.file("val"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.data + "/Tai_Chi/a.mp4", toPath: out.file("val/abc_000001_000011.mp4"))
        try out.write("kinetics-400_val.csv", "label,youtube_id,time_start,time_end,split\ntai chi,abc,1,11,val\n")
        let result = try Self.eval([out.file("cls2index.json"), "--list", out.file("kinetics-400_val.csv"), "--clips", "3", "--json", out.file("r.json")])
        #expect(result.status == 0, "\(result.err)")
        let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: out.file("r.json"))))
        let reference = try Self.expected().videos.first { $0.path == "Tai_Chi/a.mp4" }!
        #expect(report.videos.count == 1 && report.videos[0].target == 3 && report.videos[0].top5 == reference.top5)
    }

    @Test func ctrlCPrintsThePartialResult() throws {
        let out = try TemporaryFolder()
        // Long enough to be interrupted: the set's decodable videos forty times over.
        let rows = try Self.expected().videos.map { "\"\(Self.data)/\($0.path)\",\"\($0.path.split(separator: "/")[0])\"\n" }.joined()
        try out.write("list.csv", String(repeating: rows, count: 40))
        try out.write("out", "")
        try out.write("err", "")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executable.r2plus1d)
        process.arguments = ["eval", out.file("list.csv"), "--labels", Self.labels, "--weights", Self.weights, "--clips", "3",
                             "--progress-every-s", "0.05", "--json", out.file("r.json")]
        process.standardOutput = FileHandle(forWritingAtPath: out.file("out"))
        process.standardError = FileHandle(forWritingAtPath: out.file("err"))
        try process.run()
        let started = Date()
        while process.isRunning, !((try? String(contentsOfFile: out.file("err"), encoding: .utf8)) ?? "").contains("progress:"),
              Date().timeIntervalSince(started) < 60 {
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(process.isRunning, "finished before it could be interrupted")
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let stdout = try String(contentsOfFile: out.file("out"), encoding: .utf8)
        #expect(process.terminationStatus == 130)
        #expect(stdout.contains("INTERRUPTED: partial result") && stdout.contains("video top-1"), "\(stdout)")
        let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: out.file("r.json"))))
        #expect(report.summary.evaluated > 0 && report.summary.evaluated < 400)
        #expect(report.summary.clip.count == 3 * report.summary.evaluated)
    }
}
