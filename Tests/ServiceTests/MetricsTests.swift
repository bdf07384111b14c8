import Foundation
import Logging
import Testing
@testable import Service

struct MetricsTests {
    @Test func exposesCountersHistogramsAndGaugesInTheTextFormat() {
        let registry = MetricsRegistry()
        registry.counter("jobs_total", help: "Jobs.")
        registry.histogram("job_seconds", help: "Job time.", buckets: [0.5, 0.1])
        registry.gauge("depth", help: "Depth.") { 3 }
        registry.counter("refused_total", help: "Refused.", labels: ["reason": "limit"]) { 4 }
        registry.increment("jobs_total", labels: ["status": "200", "route": "/a"])
        registry.increment("jobs_total", labels: ["route": "/a", "status": "200"], by: 2)
        registry.observe("job_seconds", 0.2)
        registry.observe("job_seconds", 0.05)
        #expect(registry.value("jobs_total", labels: ["route": "/a", "status": "200"]) == 3)
        #expect(registry.render() == """
            # HELP jobs_total Jobs.
            # TYPE jobs_total counter
            jobs_total{route="/a",status="200"} 3
            # HELP job_seconds Job time.
            # TYPE job_seconds histogram
            job_seconds_bucket{le="0.1"} 1
            job_seconds_bucket{le="0.5"} 2
            job_seconds_bucket{le="+Inf"} 2
            job_seconds_sum 0.25
            job_seconds_count 2
            # HELP depth Depth.
            # TYPE depth gauge
            depth 3
            # HELP refused_total Refused.
            # TYPE refused_total counter
            refused_total{reason="limit"} 4

            """)
    }

    @Test func escapesLabelValuesAsTheTextFormatRequires() {
        #expect(MetricsRegistry.render(["b": "x", "a": "plain"]) == #"a="plain",b="x""#)
        #expect(MetricsRegistry.render(["p": "a\\b\"c\nd é"]) == #"p="a\\b\"c\nd é""#)
        #expect(MetricsRegistry.render([:]) == "")
    }

    @Test func logLinesAreWholeTimestampedAndSorted() throws {
        var pipe: [Int32] = [0, 0]
        #expect(Glibc.pipe(&pipe) == 0)
        defer { close(pipe[0]) }
        var handler = LineLogHandler(label: "test", fd: pipe[1])
        handler.metadata["z"] = "last"
        handler.log(level: .info, message: "request", metadata: ["a": "1", "m": "x y"], source: "s", file: #file,
                    function: #function, line: #line)
        close(pipe[1])
        let text = String(decoding: FileHandle(fileDescriptor: pipe[0]).readDataToEndOfFile(), as: UTF8.self)
        let pattern = #/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info test: request a=1 m=x y z=last\n$/#
        #expect(text.wholeMatch(of: pattern) != nil, "\(text)")
    }
}
