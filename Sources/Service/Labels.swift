import Foundation

/// Class names in the model's index order: one per line, as torchvision lists Kinetics-400.
public struct Labels: Sendable {
    public let names: [String]

    /// - Throws: `LabelsError` when the file cannot be read or its count differs from `classes`.
    public init(path: String, classes: Int) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw LabelsError.unreadable(path) }
        let names = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let trimmed = Array(names.reversed().drop { $0.isEmpty }.reversed())
        guard trimmed.count == classes else { throw LabelsError.countMismatch(path: path, labels: trimmed.count, classes: classes) }
        self.names = trimmed
    }

    public init(names: [String]) { self.names = names }
}

public enum LabelsError: Error, CustomStringConvertible {
    case unreadable(String)
    case countMismatch(path: String, labels: Int, classes: Int)

    public var description: String {
        switch self {
        case .unreadable(let path): "cannot read the labels file \(path)"
        case .countMismatch(let path, let labels, let classes):
            "\(path) has \(labels) labels but the model has \(classes) classes; give --labels with one name per class"
        }
    }
}
