import Foundation
import R2Plus1D
import Testing

@Suite struct Kinetics400LabelsTests {
    /// weights/kinetics400_labels.txt, which tools/make_kinetics400_labels.py turns into the Swift list.
    static let textFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("weights/kinetics400_labels.txt").path

    @Test func fourHundredDistinctNamesInTorchvisionOrder() {
        let names = Kinetics400Labels.names
        #expect(names.count == 400)
        #expect(Set(names).count == 400)
        // torchvision's R2Plus1D_18_Weights.KINETICS400_V1.meta["categories"] at both ends.
        #expect(Array(names.prefix(3)) == ["abseiling", "air drumming", "answering questions"])
        #expect(Array(names.suffix(2)) == ["yoga", "zumba"])
    }

    @Test func matchesTheCommittedTextFileLineForLine() throws {
        let text = try String(contentsOfFile: Self.textFile, encoding: .utf8)
        #expect(text.hasSuffix("\n") && !text.hasSuffix("\n\n"))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        #expect(lines.count == Kinetics400Labels.names.count)
        for (index, (line, name)) in zip(lines, Kinetics400Labels.names).enumerated() {
            #expect(line == name, "line \(index + 1); rerun tools/make_kinetics400_labels.py")
        }
    }
}
