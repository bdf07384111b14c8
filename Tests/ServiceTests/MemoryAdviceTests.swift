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
        // The server: 512 MiB, 64 queued clips of 2.3 MiB and 512 MiB of uploads, 1171 MiB; (2048 - 1171) / 2 of a
        // worker's own memory, plus the 256 MiB it maps without using, rounded down to 64 MiB.
        #expect(advice.contains("1171 MiB for the server"), "\(advice)")
        #expect(advice.contains("--decode-worker-memory-mb 640 or less"), "\(advice)")
    }

    /// Sizes no machine has, from the command line, must not trap at start.
    @Test func hugeSizesDoNotOverflow() throws {
        var c = Self.configuration(decodeThreads: 1 << 20, workerMiB: 1 << 40)
        c.http.maxBufferedBodyBytes = .max
        c.batching.queueCapacity = .max / 2
        let advice = try #require(c.memoryAdvice(limitBytes: 2 << 30))
        #expect(advice.contains("raise the limit"))
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
        #expect(advice.contains("--decode-worker-memory-mb 640 and raise the limit to at least 2707 MiB"), "\(advice)")  // 1171 + 4 x 384
    }
}
