/// Why an evaluation cannot start or resume. Each message names the file, line or classes involved and says
/// what to fix. (A video that fails to decode is not one of these: it is a result, listed in the report.)
public enum EvaluationError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String)
    case emptyDataset(path: String)
    case malformedList(path: String, line: Int, reason: String)
    case malformedClassIndex(path: String, reason: String)
    /// A cls2index.json names the classes but not the videos.
    case classIndexNeedsList(path: String)
    /// Class names of the data that match none of the model's labels, with their video counts.
    case unmatchedClasses([String: Int], labels: Int)
    case classIndexCountMismatch(path: String, classes: Int, modelClasses: Int)
    case malformedPredictions(path: String, line: Int, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path):
            return "cannot read \(path)"
        case .emptyDataset(let path):
            return "\(path) lists no videos; give a folder of <class>/<video>, a CSV or JSON list of path,label, or cls2index.json with --list"
        case .malformedList(let path, let line, let reason):
            return "\(path), line \(line): \(reason)"
        case .malformedClassIndex(let path, let reason):
            return "\(path) is not a class index (a JSON object of class name to index 0..<N): \(reason)"
        case .classIndexNeedsList(let path):
            return "\(path) is a class index: give the videos with --list (a CSV of path,label or the seed's kinetics-400_<split>.csv)"
        case .unmatchedClasses(let classes, let labels):
            let names = classes.sorted { $0.key < $1.key }.map { "'\($0.key)' (\($0.value) video\($0.value == 1 ? "" : "s"))" }
            return "\(classes.count) class name\(classes.count == 1 ? "" : "s") of the data match none of the model's \(labels) labels: "
                + names.joined(separator: ", ")
                + ". Give --labels with the model's names, rename the classes, or pass --skip-unmatched to leave their videos out (they are then counted as skipped)"
        case .classIndexCountMismatch(let path, let classes, let modelClasses):
            return "\(path) has \(classes) classes but the model has \(modelClasses)"
        case .malformedPredictions(let path, let line, let reason):
            return "\(path), line \(line): \(reason); it was not written by r2plus1d eval: give another --predictions file, or drop --resume"
        }
    }
}
