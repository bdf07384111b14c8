import Foundation
import R2Plus1D
import Testing

@Suite struct WeightsSourceTests {
    static func temporaryDirectory(files: [String]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("r2plus1d-discover-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for file in files { try Data().write(to: url.appendingPathComponent(file)) }
        return url.path
    }

    @Test func discoveryPrefersTorchvisionsFileAndIgnoresOtherFiles() throws {
        let directory = try Self.temporaryDirectory(files: ["a.pth", "r2plus1d_18-91a641e6.pth", "notes.txt"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try WeightsSource.discover(in: directory) == .file(path: "\(directory)/r2plus1d_18-91a641e6.pth"))
    }

    @Test func noWeightFileNamesTheAbsoluteFolderItSearched() throws {
        let directory = try Self.temporaryDirectory(files: ["kinetics400_labels.txt"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: WeightError.noWeightFile(directory: directory)) { try WeightsSource.discover(in: directory) }

        // The default folder is relative to the working directory; the message gives it whole.
        let relative = "no-such-weights-\(UUID().uuidString)"
        let expected = FileManager.default.currentDirectoryPath + "/" + relative
        #expect(throws: WeightError.noWeightFile(directory: expected)) { try WeightsSource.discover(in: relative) }
        let message = WeightError.noWeightFile(directory: expected).description
        #expect(message.contains(expected) && message.contains("--weights FILE") && message.contains("--demo-weights"))
    }
}
