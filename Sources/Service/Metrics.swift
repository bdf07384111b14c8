import Foundation

/// A small Prometheus registry: counters and histograms with labels, gauges (and counters kept elsewhere) read when
/// scraped, rendered in the text exposition format 0.0.4.
public final class MetricsRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var help: [String: (type: String, text: String)] = [:]
    private var order: [String] = []
    private var counters: [String: [String: Double]] = [:]
    private var histograms: [String: (buckets: [Double], series: [String: HistogramSeries])] = [:]
    /// Series read when scraped: every gauge, and counters another component keeps.
    private var scraped: [String: [(labels: String, read: @Sendable () -> Double)]] = [:]

    struct HistogramSeries {
        var counts: [UInt64]
        var sum = 0.0
        var count: UInt64 = 0

        mutating func add(_ value: Double, buckets: [Double]) {
            for (i, bound) in buckets.enumerated() where value <= bound { counts[i] += 1 }
            sum += value
            count += 1
        }
    }

    public init() {}

    private func declare(_ name: String, _ type: String, _ text: String) {
        if help[name] == nil {
            help[name] = (type, text)
            order.append(name)
        }
    }

    public func counter(_ name: String, help text: String) {
        lock.withLock { declare(name, "counter", text); counters[name, default: [:]] = counters[name] ?? [:] }
    }

    public func histogram(_ name: String, help text: String, buckets: [Double]) {
        lock.withLock {
            declare(name, "histogram", text)
            if histograms[name] == nil { histograms[name] = (buckets.sorted(), [:]) }
        }
    }

    public func gauge(_ name: String, help text: String, labels: [String: String] = [:], read: @escaping @Sendable () -> Double) {
        lock.withLock {
            declare(name, "gauge", text)
            scraped[name, default: []].append((Self.render(labels), read))
        }
    }

    /// A counter another component keeps (the HTTP server's refusals), read when scraped.
    public func counter(_ name: String, help text: String, labels: [String: String] = [:], read: @escaping @Sendable () -> Double) {
        lock.withLock {
            declare(name, "counter", text)
            scraped[name, default: []].append((Self.render(labels), read))
        }
    }

    public func increment(_ name: String, labels: [String: String] = [:], by amount: Double = 1) {
        let key = Self.render(labels)
        lock.withLock { counters[name, default: [:]][key, default: 0] += amount }
    }

    public func observe(_ name: String, _ value: Double, labels: [String: String] = [:]) {
        let key = Self.render(labels)
        lock.withLock {
            guard let buckets = histograms[name]?.buckets else { return }
            // Mutated in place: copying the series out and back would copy the whole dictionary every time.
            histograms[name]!.series[key, default: HistogramSeries(counts: Array(repeating: 0, count: buckets.count))]
                .add(value, buckets: buckets)
        }
    }

    /// The current value of a counter series (for tests and for /v1/model).
    public func value(_ name: String, labels: [String: String] = [:]) -> Double {
        lock.withLock { counters[name]?[Self.render(labels)] ?? 0 }
    }

    public func render() -> String {
        lock.withLock {
            var out = ""
            for name in order {
                guard let (type, text) = help[name] else { continue }
                out += "# HELP \(name) \(text)\n# TYPE \(name) \(type)\n"
                switch type {
                case "histogram":
                    guard let histogram = histograms[name] else { continue }
                    for (labels, series) in histogram.series.sorted(by: { $0.key < $1.key }) {
                        let prefix = labels.isEmpty ? "" : labels + ","
                        for (bound, count) in zip(histogram.buckets, series.counts) {
                            out += "\(name)_bucket{\(prefix)le=\"\(Self.format(bound))\"} \(count)\n"
                        }
                        out += "\(name)_bucket{\(prefix)le=\"+Inf\"} \(series.count)\n"
                        out += "\(name)_sum\(labels.isEmpty ? "" : "{\(labels)}") \(Self.format(series.sum))\n"
                        out += "\(name)_count\(labels.isEmpty ? "" : "{\(labels)}") \(series.count)\n"
                    }
                case "counter":
                    for (labels, value) in (counters[name] ?? [:]).sorted(by: { $0.key < $1.key }) {
                        out += "\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(Self.format(value))\n"
                    }
                    fallthrough  // and the counters kept elsewhere, read as gauges are
                default:
                    for (labels, read) in scraped[name] ?? [] {
                        out += "\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(Self.format(read()))\n"
                    }
                }
            }
            return out
        }
    }

    /// `a="x",b="y"`, keys sorted, values escaped as the text format wants (backslash, quote, newline).
    static func render(_ labels: [String: String]) -> String {
        var out = ""
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            if !out.isEmpty { out += "," }
            out += key
            out += "=\""
            if value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == 10 }) {
                for scalar in value.unicodeScalars {
                    switch scalar {
                    case "\\": out += "\\\\"
                    case "\"": out += "\\\""
                    case "\n": out += "\\n"
                    default: out.unicodeScalars.append(scalar)
                    }
                }
            } else {
                out += value
            }
            out += "\""
        }
        return out
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
