/// A route path with `{name}` segments, such as `/v1/jobs/{id}`: each matches exactly one non-empty segment.
struct PathTemplate: Equatable, Sendable {
    enum Segment: Equatable, Sendable {
        case literal(String)
        case parameter(String)
    }

    let text: String
    let segments: [Segment]

    /// nil when `path` has no `{name}` segment (an exact route).
    init?(_ path: String) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        let segments = parts.map { part -> Segment in
            if part.count > 2, part.first == "{", part.last == "}" { return .parameter(String(part.dropFirst().dropLast())) }
            return .literal(String(part))
        }
        guard path.hasPrefix("/"), segments.contains(where: { if case .parameter = $0 { true } else { false } }) else { return nil }
        text = path
        self.segments = segments
    }

    /// The parameters' values if `path` matches, else nil.
    func match(_ path: String) -> [String: String]? {
        guard path.hasPrefix("/") else { return nil }
        let parts = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
        guard parts.count == segments.count else { return nil }
        var values: [String: String] = [:]
        for (part, segment) in zip(parts, segments) {
            switch segment {
            case .literal(let literal):
                guard part.elementsEqual(literal.utf8) else { return nil }
            case .parameter(let name):
                guard !part.isEmpty else { return nil }
                values[name] = String(decoding: part, as: UTF8.self)
            }
        }
        return values
    }
}
