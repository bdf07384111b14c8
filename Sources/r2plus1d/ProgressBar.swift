import Foundation
import Synchronization

/// A one-line progress bar with rate and time left, redrawn in place on standard error; only on a terminal,
/// so logs and pipes never get carriage returns.
final class ProgressBar: Sendable {
    private let label: String
    private let started = DispatchTime.now().uptimeNanoseconds
    private let lastDraw = Mutex<UInt64>(0)

    /// nil when standard error is not a terminal.
    static func onTerminal(label: String) -> ProgressBar? {
        isatty(STDERR_FILENO) == 1 ? ProgressBar(label: label) : nil
    }

    private init(label: String) { self.label = label }

    func update(done: Int, of total: Int) {
        let now = DispatchTime.now().uptimeNanoseconds
        // At most ten redraws a second, and always the last.
        guard lastDraw.withLock({ last in
            guard done == total || now - last > 100_000_000 else { return false }
            last = now
            return true
        }) else { return }
        let seconds = Double(now - started) / 1e9
        FileHandle.standardError.write(Data(("\r" + Self.line(label: label, done: done, total: total, seconds: seconds)).utf8))
    }

    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }

    /// `windows  37/120 [#########...........] 12.3/s  ETA 0:07`
    static func line(label: String, done: Int, total: Int, seconds: Double, width: Int = 30) -> String {
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 0
        let filled = Int((fraction * Double(width)).rounded(.down))
        let rate = seconds > 0 ? Double(done) / seconds : 0
        let left = rate > 0 ? Int((Double(total - done) / rate).rounded()) : 0
        return String(format: "%@ %d/%d [%@%@] %.1f/s  ETA %d:%02d", label, done, total,
                      String(repeating: "#", count: filled), String(repeating: ".", count: width - filled), rate, left / 60, left % 60)
    }
}
