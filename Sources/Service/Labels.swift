import Foundation
import R2Plus1D

/// Class names in the model's index order: one per line, as torchvision lists Kinetics-400.
public struct Labels: Sendable {
    public let names: [String]

    /// The names in the file at `path`, or without one the built-in Kinetics-400 names (`Kinetics400Labels`), which
    /// travel with the executable so that it runs from any directory.
    /// - Throws: `LabelsError.unreadable` or `.countMismatch` for the file; `.noBuiltInLabels` when no file is
    ///   given and the model does not have 400 classes.
    public init(path: String?, classes: Int) throws {
        guard let path else {
            guard classes == Kinetics400Labels.names.count else { throw LabelsError.noBuiltInLabels(classes: classes) }
            names = Kinetics400Labels.names
            return
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw LabelsError.unreadable(path) }
        let names = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let trimmed = Array(names.reversed().drop { $0.isEmpty }.reversed())
        guard trimmed.count == classes else { throw LabelsError.countMismatch(path: path, labels: trimmed.count, classes: classes) }
        self.names = trimmed
    }

    public init(names: [String]) { self.names = names }
}

/// Why the class names could not be had. A struct, so new kinds do not break callers; compare with `==`.
public struct LabelsError: Error, Equatable, CustomStringConvertible {
    public let description: String

    public static func unreadable(_ path: String) -> LabelsError { LabelsError(description: "cannot read the labels file \(path)") }

    public static func countMismatch(path: String, labels: Int, classes: Int) -> LabelsError {
        LabelsError(description: "\(path) has \(labels) labels but the model has \(classes) classes; give --labels with one name per class")
    }

    public static func noBuiltInLabels(classes: Int) -> LabelsError {
        LabelsError(description: "the model has \(classes) classes, and the built-in labels are Kinetics-400's 400; give --labels FILE "
            + "(serve: or R2PLUS1D_LABELS) with one name per class, in the model's index order")
    }
}
