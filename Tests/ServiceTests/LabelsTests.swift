import Foundation
import Logging
import R2Plus1D
import Service
import Testing

@Suite struct LabelsTests {
    @Test func withoutAFileA400ClassModelGetsTheBuiltInKineticsNames() throws {
        let labels = try Labels(path: nil, classes: 400)
        #expect(labels.names == Kinetics400Labels.names)
        #expect(labels.names.first == "abseiling" && labels.names.last == "zumba")
    }

    @Test func aLabelsFileIsReadWhenGiven() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("labels-\(UUID().uuidString).txt").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "run\n jump \nswim\n\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try Labels(path: path, classes: 3).names == ["run", "jump", "swim"])
        #expect(throws: LabelsError.countMismatch(path: path, labels: 3, classes: 400)) { try Labels(path: path, classes: 400) }
    }

    @Test func anotherClassCountWithoutAFileAsksForLabels() throws {
        #expect(throws: LabelsError.noBuiltInLabels(classes: 7)) { try Labels(path: nil, classes: 7) }
        #expect(LabelsError.noBuiltInLabels(classes: 7).description.contains("--labels FILE"))
    }

    @Test func theServiceRefusesToStartWithoutLabelsForA7ClassModel() throws {
        var configuration = ServiceConfiguration(weights: .file(path: TestService.files.weights))
        configuration.http.host = "127.0.0.1"
        configuration.http.port = 0
        configuration.blasThreads = 1
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        #expect(throws: LabelsError.noBuiltInLabels(classes: TestService.classes)) {
            try ClassificationService(configuration: configuration, logger: logger)
        }
    }
}
