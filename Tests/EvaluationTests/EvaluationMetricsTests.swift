import Service
import Testing

@Suite struct EvaluationMetricsTests {
    @Test func aRecordFollowsTorchvisionsClipAndVideoProtocol() {
        // Clip 0 ranks class 2 first; clip 1 ranks class 0 first and class 2 third. Averaged softmax: class 2 wins.
        let logits: [[Float]] = [[0, 1, 5, 0, 0, 0, 0], [3, 2.5, 1, 0, 0, 0, 0]]
        let record = EvaluationRecord(path: "v.mp4", className: "c", target: 2, logits: logits)
        #expect(record.clips == 2 && record.clipTop1 == 1 && record.clipTop5 == 2)
        #expect(record.top5.first == 2 && record.top5.count == 5)
        let far = EvaluationRecord(path: "w.mp4", className: "c", target: 6, logits: [[0, 1, 2, 3, 4, 5, -1]])
        #expect(far.clipTop1 == 0 && far.clipTop5 == 0 && !far.top5.contains(6))
        // Ties rank the lower index first, as Classification does.
        let tie = EvaluationRecord(path: "t.mp4", className: "c", target: 1, logits: [[1, 1, 1, 1, 1, 1]])
        #expect(tie.top5 == [0, 1, 2, 3, 4] && tie.clipTop1 == 0 && tie.clipTop5 == 1)
    }

    @Test func metricsCountTopKPerClassConfusionsAndFailures() {
        var metrics = EvaluationMetrics(labels: ["a", "b", "c"])
        metrics.add(EvaluationRecord(path: "1", className: "a", target: 0, top5: [0, 1, 2], scores: [0.5, 0.3, 0.2], clips: 2, clipTop1: 2, clipTop5: 2))
        metrics.add(EvaluationRecord(path: "2", className: "a", target: 0, top5: [1, 0, 2], scores: [0.5, 0.3, 0.2], clips: 2, clipTop1: 1, clipTop5: 2))
        metrics.add(EvaluationRecord(path: "3", className: "b", target: 1, top5: [2, 0, 1], scores: [0.5, 0.3, 0.2], clips: 2, clipTop1: 0, clipTop5: 2))
        metrics.add(EvaluationRecord(path: "4", className: "a", target: 0, top5: [1, 2, 0], scores: [0.5, 0.3, 0.2], clips: 3, clipTop1: 0, clipTop5: 1))
        metrics.add(.failed(path: "5", className: "c", target: 2, error: "no video stream"))
        let s = metrics.summary(confusedPairs: 1, skipped: 3)
        #expect(s.videos == 5 && s.evaluated == 4 && s.failed == 1 && s.skipped == 3 && !s.interrupted)
        #expect(s.clip.count == 9 && s.clip.top1_correct == 3 && s.clip.top5_correct == 7)
        #expect(abs(s.clip.top1 - 3.0 / 9) < 1e-12)
        #expect(s.video.count == 4 && s.video.top1_correct == 1 && s.video.top5_correct == 4)
        #expect(s.per_class.map(\.label) == ["a", "b"])
        #expect(abs(s.per_class[0].top1 - 1.0 / 3) < 1e-12 && s.per_class[0].videos == 3 && s.per_class[1].top1 == 0)
        #expect(s.most_confused.map { "\($0.label)>\($0.predicted):\($0.videos)" } == ["a>b:2"])
        #expect(s.failures.map { "\($0.path) \($0.label) \($0.error)" } == ["5 c no video stream"])
    }

    @Test func anEmptyRunReportsZerosNotNaN() {
        let s = EvaluationMetrics(labels: ["a"]).summary()
        #expect(s.video.top1 == 0 && s.clip.top5 == 0 && s.videos == 0)
    }

    @Test func predictionsLinesReadBackAsTheSameRecords() throws {
        let records = [
            EvaluationRecord(path: "/data/a, b/\"x\".mp4", className: "tai chi", target: 3, top5: [3, 1, 0, 2, 4],
                             scores: [0.4, 0.2, 0.15, 0.15, 0.1000000000000001], clips: 5, clipTop1: 4, clipTop5: 5),
            .failed(path: "/data/c.mp4", className: "yoga", target: 1, error: "unsupported container, \"x\"\nline"),
        ]
        let text = PredictionsFile.headerLine + records.map(PredictionsFile.line).joined()
        #expect(try PredictionsFile.records(text, path: "p.csv", classes: 5) == records)
        // A run killed while writing leaves a last line without its end: it is left out, to run again.
        let cut = text + "/data/d.mp4,yoga,1,1 2"
        #expect(try PredictionsFile.records(cut, path: "p.csv", classes: 5) == records)
        #expect(throws: EvaluationError.self) { try PredictionsFile.records(text, path: "p.csv", classes: 3) }
        #expect(throws: EvaluationError.self) { try PredictionsFile.records("path,label\n", path: "p.csv", classes: 5) }
    }

    @Test func progressShowsRateAndETA() {
        let p = EvaluationProgress(done: 25, total: 100, failed: 1, clips: 125, seconds: 50)
        #expect(p.clipsPerSecond == 2.5 && p.etaSeconds == 150)
        #expect(p.bar(width: 8) == "[##......] 25/100 videos (25.0%)  1 failed  2.50 clips/s  ETA 2:30")
        #expect(p.line.hasPrefix("progress: 25/100 videos"))
        #expect(EvaluationProgress(done: 0, total: 9, failed: 0, clips: 0, seconds: 1).etaSeconds == nil)
    }
}
