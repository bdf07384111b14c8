/// A job's life: queued on the pod that took it, running there, then done, failed or cancelled for good.
public enum JobState: String, Codable, Sendable, CaseIterable {
    case queued, running, done, failed, cancelled

    /// Done, failed and cancelled never change again.
    public var isFinished: Bool { self == .done || self == .failed || self == .cancelled }

    /// The legal moves: queued -> running | failed | cancelled, running -> done | failed | cancelled.
    public func canMove(to next: JobState) -> Bool {
        switch (self, next) {
        case (.queued, .running), (.queued, .failed), (.queued, .cancelled): true
        case (.running, .done), (.running, .failed), (.running, .cancelled): true
        default: false
        }
    }
}
