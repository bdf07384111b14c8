import Foundation

/// Processes as /proc shows them, for tests that count and kill decode workers.
public enum ChildProcesses {
    /// Children of `parent` whose command line contains `decode-worker`.
    public static func decodeWorkers(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let fields = stat.split(separator: ")").last?.split(separator: " "), fields.count > 2,
                  Int32(fields[2]) == parent, !isZombieOrGone(pid),
                  let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { return false }
            return String(decoding: cmdline, as: UTF8.self).contains("decode-worker")
        }
    }

    /// True once `pid` has been reaped: no /proc entry (a zombie still has one).
    public static func isReaped(_ pid: Int32) -> Bool { !FileManager.default.fileExists(atPath: "/proc/\(pid)") }

    /// True once `pid` no longer runs: reaped (no /proc entry), or a zombie no one has reaped yet.
    public static func isZombieOrGone(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
    }
}
