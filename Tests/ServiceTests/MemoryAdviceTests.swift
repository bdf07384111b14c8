import R2Plus1D
@testable import Service
import Testing

/// What `serve` says at start when its settings may need more memory than the container's limit allows.
@Suite struct MemoryAdviceTests {
    static func configuration(decodeThreads: Int = 2, workerMiB: Int = 2048) -> ServiceConfiguration {
        var c = ServiceConfiguration(weights: .demo(seed: 1))
        c.decodeThreads = decodeThreads
        c.workerMemoryBytes = workerMiB << 20
        c.http.maxBufferedBodyBytes = 512 << 20
        return c
    }

    @Test func defaultWorkersInTwoGibibytesAreToldTheSizeThatFits() throws {
        let advice = try #require(Self.configuration().memoryAdvice(limitBytes: 2 << 30))
        #expect(advice.contains("2048 MiB"))
        // (2048 - 1024) / 2 of a worker's own memory, plus the 320 MiB it maps shared.
        #expect(advice.contains("--decode-worker-memory-mb 832 or less"), "\(advice)")
    }

    @Test func settingsThatFitSayNothing() {
        #expect(Self.configuration(workerMiB: 640).memoryAdvice(limitBytes: 2 << 30) == nil)
        #expect(Self.configuration().memoryAdvice(limitBytes: nil) == nil)
        #expect(Self.configuration().memoryAdvice(limitBytes: 6 << 30) == nil)
        var inProcess = Self.configuration()
        inProcess.decodeInWorkers = false
        #expect(inProcess.memoryAdvice(limitBytes: 2 << 30) == nil)
    }

    /// Four workers would get less than a 4K upload needs: the limit is what should change.
    @Test func aLimitTooSmallForAnyWorkerAsksForMore() throws {
        let advice = try #require(Self.configuration(decodeThreads: 4).memoryAdvice(limitBytes: 2 << 30))
        #expect(advice.contains("raise"), "\(advice)")
        #expect(advice.contains("2304 MiB"), "\(advice)")  // 1024 + 4 x (640 - 320)
    }
}
