import Foundation

/// A labelled set of videos to evaluate, read from one of the layouts datasets come in:
///
/// - a folder in the Kinetics layout, `DATA/<class>/<video>` (every file not starting with `.` is a video);
/// - a CSV list of `path,label` (a header naming `path`/`video`/`file` and `label`/`class` columns is optional), or
///   the Kinetics list format `label,youtube_id,time_start,time_end,split`, whose videos are
///   `<list folder>/<split>/<youtube_id>_<start, 6 digits>_<end, 6 digits>.mp4` as the r2plus1d_mindspore
///   project names them (the split from a `kinetics-400_<split>.csv` file name, else the `split` column);
/// - a JSON list: `[{"path": ..., "label": ...}]` or `[[path, label]]`;
/// - that project's `cls2index.json` (class name to the model's index) with one of the lists above.
///
/// Relative paths in a list are relative to the list's folder.
public struct EvaluationDataset: Sendable, Equatable {
    public struct Item: Sendable, Equatable {
        public var path: String
        public var className: String

        public init(path: String, className: String) {
            self.path = path
            self.className = className
        }
    }

    public var items: [Item]
    /// From a cls2index.json: the model's class names in index order, which then replace its labels.
    public var classIndex: [String]?

    public init(items: [Item], classIndex: [String]? = nil) {
        self.items = items
        self.classIndex = classIndex
    }

    /// - Parameters:
    ///   - data: a folder, a `.csv` or `.json` list, or a cls2index.json;
    ///   - list: the list of videos, with a cls2index.json.
    /// - Throws: `EvaluationError` naming the file and line.
    public static func load(_ data: String, list: String? = nil) throws -> EvaluationDataset {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: data, isDirectory: &isFolder) else { throw EvaluationError.unreadable(path: data) }
        let dataset: EvaluationDataset
        if isFolder.boolValue {
            dataset = try folder(data)
        } else if let classIndex = try classIndex(path: data) {
            guard let list else { throw EvaluationError.classIndexNeedsList(path: data) }
            dataset = EvaluationDataset(items: try load(list).items, classIndex: classIndex)
        } else {
            dataset = try self.list(data)
        }
        guard !dataset.items.isEmpty else { throw EvaluationError.emptyDataset(path: list ?? data) }
        return dataset
    }

    /// `root/<class>/<video>`, classes and videos in name order.
    static func folder(_ root: String) throws -> EvaluationDataset {
        let manager = FileManager.default
        guard let classes = try? manager.contentsOfDirectory(atPath: root) else { throw EvaluationError.unreadable(path: root) }
        var items: [Item] = []
        for name in classes.sorted() where !name.hasPrefix(".") {
            let folder = (root as NSString).appendingPathComponent(name)
            var isFolder: ObjCBool = false
            guard manager.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else { continue }
            guard let videos = try? manager.contentsOfDirectory(atPath: folder) else { throw EvaluationError.unreadable(path: folder) }
            for video in videos.sorted() where !video.hasPrefix(".") {
                items.append(Item(path: (folder as NSString).appendingPathComponent(video), className: name))
            }
        }
        return EvaluationDataset(items: items)
    }

    static func list(_ path: String) throws -> EvaluationDataset {
        guard let bytes = FileManager.default.contents(atPath: path) else { throw EvaluationError.unreadable(path: path) }
        let base = (path as NSString).deletingLastPathComponent
        if path.lowercased().hasSuffix(".json") { return EvaluationDataset(items: try jsonList(bytes, path: path, base: base)) }
        guard let text = String(data: bytes, encoding: .utf8) else {
            throw EvaluationError.malformedList(path: path, line: 1, reason: "not UTF-8 text")
        }
        return EvaluationDataset(items: try csvList(text, path: path, base: base))
    }

    static func csvList(_ text: String, path: String, base: String) throws -> [Item] {
        var rows = try CSVText.rows(text, path: path)
        guard let first = rows.first else { return [] }
        let header = first.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        if let kinetics = KineticsColumns(header) {
            rows.removeFirst()
            return try rows.map { row in
                guard row.fields.count == header.count else {
                    throw EvaluationError.malformedList(path: path, line: row.line, reason: "\(row.fields.count) fields where the header has \(header.count)")
                }
                let split = kineticsSplit(fileName: (path as NSString).lastPathComponent) ?? kinetics.split.map { row.fields[$0] } ?? ""
                let name = "\(row.fields[kinetics.id])_\(zeroFilled(row.fields[kinetics.start]))_\(zeroFilled(row.fields[kinetics.end])).mp4"
                return Item(path: resolve((split as NSString).appendingPathComponent(name), base: base), className: row.fields[kinetics.label])
            }
        }
        var pathColumn = 0, labelColumn = 1
        if let p = header.firstIndex(where: { ["path", "video", "file", "filename"].contains($0) }),
           let l = header.firstIndex(where: { ["label", "class", "class_name", "category"].contains($0) })
        {
            (pathColumn, labelColumn) = (p, l)
            rows.removeFirst()
        }
        return try rows.map { row in
            guard row.fields.count > max(pathColumn, labelColumn) else {
                throw EvaluationError.malformedList(path: path, line: row.line, reason: "expected path,label, found \(row.fields.count) field\(row.fields.count == 1 ? "" : "s")")
            }
            let video = row.fields[pathColumn].trimmingCharacters(in: .whitespaces)
            guard !video.isEmpty else { throw EvaluationError.malformedList(path: path, line: row.line, reason: "the path is empty") }
            return Item(path: resolve(video, base: base), className: row.fields[labelColumn])
        }
    }

    static func jsonList(_ bytes: Data, path: String, base: String) throws -> [Item] {
        guard let array = (try? JSONSerialization.jsonObject(with: bytes)) as? [Any] else {
            throw EvaluationError.malformedList(path: path, line: 1, reason: #"expected a JSON array of {"path": ..., "label": ...} or [path, label]"#)
        }
        return try array.enumerated().map { index, entry in
            let pair: (Any?, Any?)
            if let object = entry as? [String: Any] {
                pair = (object["path"] ?? object["video"], object["label"] ?? object["class"])
            } else if let tuple = entry as? [Any], tuple.count == 2 {
                pair = (tuple[0], tuple[1])
            } else {
                pair = (nil, nil)
            }
            guard let video = pair.0 as? String, !video.isEmpty, let label = pair.1 as? String else {
                throw EvaluationError.malformedList(path: path, line: 1, reason: "entry \(index) is not a path and a label, both strings")
            }
            return Item(path: resolve(video, base: base), className: label)
        }
    }

    /// The class names of a cls2index.json in index order; nil when the file is not a JSON object of numbers.
    /// - Throws: `EvaluationError.malformedClassIndex` for an object of numbers that is not a permutation of 0..<N.
    static func classIndex(path: String) throws -> [String]? {
        guard path.lowercased().hasSuffix(".json"), let bytes = FileManager.default.contents(atPath: path),
              let object = (try? JSONSerialization.jsonObject(with: bytes)) as? [String: Any], !object.isEmpty,
              object.values.allSatisfy({ $0 is NSNumber })
        else { return nil }
        var names = [String?](repeating: nil, count: object.count)
        for (name, value) in object {
            let number = value as! NSNumber
            let index = number.intValue
            guard Double(index) == number.doubleValue, names.indices.contains(index), names[index] == nil else {
                throw EvaluationError.malformedClassIndex(path: path, reason: "'\(name)' has index \(number), and indices must be 0..<\(object.count), each once")
            }
            names[index] = name
        }
        return names.map { $0! }
    }

    private struct KineticsColumns {
        let label: Int, id: Int, start: Int, end: Int, split: Int?
        init?(_ header: [String]) {
            guard let label = header.firstIndex(of: "label"), let id = header.firstIndex(of: "youtube_id"),
                  let start = header.firstIndex(of: "time_start"), let end = header.firstIndex(of: "time_end") else { return nil }
            (self.label, self.id, self.start, self.end, split) = (label, id, start, end, header.firstIndex(of: "split"))
        }
    }

    /// `kinetics-400_val.csv` -> `val`.
    private static func kineticsSplit(fileName: String) -> String? {
        guard fileName.hasPrefix("kinetics-"), fileName.hasSuffix(".csv"), let underscore = fileName.lastIndex(of: "_") else { return nil }
        let split = fileName[fileName.index(after: underscore)..<fileName.index(fileName.endIndex, offsetBy: -4)]
        return split.isEmpty ? nil : String(split)
    }

    /// As Python's `str.zfill(6)`, which the seed project applies to the CSV's times.
    private static func zeroFilled(_ value: String) -> String {
        value.count >= 6 ? value : String(repeating: "0", count: 6 - value.count) + value
    }

    private static func resolve(_ path: String, base: String) -> String {
        path.hasPrefix("/") || base.isEmpty ? path : (base as NSString).appendingPathComponent(path)
    }
}
