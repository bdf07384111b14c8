/// Counts repeated events and says when to log them: the first at once, then at most one line an interval with
/// the count since the last, so a flood of refusals costs a few log lines rather than one each.
struct EventThrottle {
    let intervalNanoseconds: UInt64
    private var lastReport: UInt64?
    private var unreported = 0

    init(intervalNanoseconds: UInt64) {
        self.intervalNanoseconds = intervalNanoseconds
    }

    /// Records one event at `now`; returns the events to report now, this one included, or nil to stay quiet.
    mutating func record(now: UInt64) -> Int? {
        unreported += 1
        if let lastReport, now &- lastReport < intervalNanoseconds { return nil }
        defer { unreported = 0 }
        lastReport = now
        return unreported
    }
}
