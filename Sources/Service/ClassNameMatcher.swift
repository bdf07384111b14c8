/// Finds the model's class for a dataset's class name, forgiving the ways copies of Kinetics spell them:
/// case, `_` for spaces, surrounding quotes and whitespace (`"Playing_Cricket"` is `playing cricket`); failing
/// that, letters and digits alone (`passing_American_football_in_game` is `passing American football (in game)`).
/// A name that two labels share under the looser rule matches neither.
public struct ClassNameMatcher: Sendable {
    private var exact: [String: Int] = [:]
    private var loose: [String: Int?] = [:]

    public init(labels: [String]) {
        for (index, label) in labels.enumerated() {
            let key = Self.normalised(label)
            if exact[key] == nil { exact[key] = index }
            let looseKey = Self.lettersAndDigits(key)
            loose[looseKey] = loose[looseKey] == nil ? index : .some(nil)
        }
    }

    /// The label index for `name`, or nil when none matches.
    public func index(of name: String) -> Int? {
        let key = Self.normalised(name)
        if let index = exact[key] { return index }
        return loose[Self.lettersAndDigits(key)] ?? nil
    }

    /// Lower case, `_` read as a space, runs of spaces as one, quotes and spaces trimmed from both ends.
    static func normalised(_ name: String) -> String {
        let quotes: Set<Character> = ["\"", "'", "`", "\u{201C}", "\u{201D}", "\u{2018}", "\u{2019}"]
        var text = Substring(name.lowercased().replacing("_", with: " "))
        while let first = text.first, first.isWhitespace || quotes.contains(first) { text.removeFirst() }
        while let last = text.last, last.isWhitespace || quotes.contains(last) { text.removeLast() }
        return text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    private static func lettersAndDigits(_ key: String) -> String { String(key.filter { $0.isLetter || $0.isNumber }) }
}
