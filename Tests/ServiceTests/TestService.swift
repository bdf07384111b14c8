import Foundation
import HTTPServer
import Logging
import R2Plus1D
import Service
import TestSupport

/// A service on a free loopback port with a narrow R(2+1)D (demo weights written as safetensors), 7 classes.
final class TestService: @unchecked Sendable {
    static let classes = 7
    let service: ClassificationService
    let directory: URL
    private let done = DispatchSemaphore(value: 0)
    var port: Int { service.port }

    /// Weights and labels for tests, written once per process.
    static let files: (weights: String, labels: String) = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("r2plus1d-service-\(getpid())")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let dict = DemoWeights.make(.torchvision(classes: classes, stemMidplanes: 6, stemPlanes: 8, planes: [8, 8, 16, 16]), seed: 3)
        let weights = directory.appendingPathComponent("narrow.safetensors").path
        try! Safetensors.write(dict.names.map { ($0, dict[$0]!) }, path: weights)
        let labels = directory.appendingPathComponent("labels.txt").path
        try! (0..<classes).map { "action \($0)" }.joined(separator: "\n").write(toFile: labels, atomically: true, encoding: .utf8)
        return (weights, labels)
    }()

    init(_ configure: (inout ServiceConfiguration) -> Void = { _ in }) throws {
        var configuration = ServiceConfiguration(weights: .file(path: Self.files.weights), labelsPath: Self.files.labels)
        configuration.http.host = "127.0.0.1"
        configuration.http.port = 0
        configuration.http.drainDelaySeconds = 0
        configuration.blasThreads = 1
        configuration.workerExecutable = Executable.r2plus1d
        configure(&configuration)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        service = try ClassificationService(configuration: configuration, logger: logger)
        directory = URL(fileURLWithPath: Self.files.weights).deletingLastPathComponent()
        let thread = Thread { [service, done] in
            service.run()
            done.signal()
        }
        thread.start()
        // Ready once the warm-up forward is done.
        for _ in 0..<200 {
            if (try? get("/readyz"))?.status == 200 { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    func stop() -> Bool {
        service.drain()
        return done.wait(timeout: .now() + 30) == .success
    }

    func get(_ path: String) throws -> (status: Int, headers: [String: String], body: String) {
        let client = try RawClient(port: port)
        client.send("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
        guard let response = client.response() else { throw URLError(.badServerResponse) }
        return response
    }

    /// POSTs `body` as the raw request body with `contentType` and extra header lines.
    func post(_ path: String, body: Data, contentType: String, headers: [String] = []) throws
        -> (status: Int, headers: [String: String], body: String) {
        let client = try RawClient(port: port, receiveTimeout: 60)
        client.send("POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: \(contentType)\r\n" + headers.map { $0 + "\r\n" }.joined()
            + "Content-Length: \(body.count)\r\n\r\n")
        client.send([UInt8](body))
        guard let response = client.response() else { throw URLError(.badServerResponse) }
        return response
    }

    /// The value of one metric series in /metrics (0 when absent).
    func metric(_ series: String) throws -> Double {
        let text = try get("/metrics").body
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.split(separator: " ").last!) ?? 0
        }
        return 0
    }
}

/// The JSON answer of POST /classify.
struct ClassifyAnswer: Decodable {
    struct Prediction: Decodable, Equatable { var label: String; var index: Int; var score: Double }
    struct Span: Decodable { var start_s: Double; var end_s: Double }
    struct Video: Decodable { var container: String; var codec: String; var width: Int; var height: Int; var fps: Double; var duration_s: Double }
    struct Model: Decodable { var name: String; var weights: String; var sha256: String? }
    struct Timing: Decodable { var decode: Double; var queue: Double; var inference: Double; var total: Double }
    var predictions: [Prediction]
    var clips: [Span]
    var video: Video
    var model: Model
    var timing_ms: Timing

    init(_ text: String) throws {
        self = try JSONDecoder().decode(ClassifyAnswer.self, from: Data(text.utf8))
    }
}
