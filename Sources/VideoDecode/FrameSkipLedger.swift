/// Which frames the decoder may leave out, and the check that the frames it then outputs bear every choice out.
///
/// A frame at time p is unneeded when a frame at a later time w is known (its packet has been sent) and no query
/// time asks for a frame in [p, w): every later query is answered by w or a frame after it. Such a frame is sent
/// with leave to be dropped if it is not a reference (`AVDISCARD_NONREF`), so no other frame's pixels change.
/// The choice holds only if w really comes out, so `output` checks each witness against the frames output in
/// presentation order; a miss means the run must be decoded again without leave to drop.
///
/// Timestamps are the stream's own units. Pure bookkeeping: no FFmpeg.
struct FrameSkipLedger {
    /// Timestamps of the packets sent since the last flush, ascending.
    private var sent: [Int64] = []
    /// Packets sent with leave to be dropped.
    private var droppable: Set<Int64> = []
    /// Frames relied on by a choice and not yet seen among the output, ascending.
    private var witnesses: [Int64] = []
    private var lastOutput: Int64?

    /// Whether any frame was given leave to be dropped since the last flush (only then is the output checked).
    var isActive: Bool { !droppable.isEmpty }

    /// After a seek: the decoder holds nothing of what was sent.
    mutating func reset() { self = FrameSkipLedger() }

    /// Records a packet about to be sent.
    /// - Parameter unneeded: whether no query asks for a frame in [first, second).
    /// - Returns: whether its frame may be dropped.
    mutating func send(_ timestamp: Int64, unneeded: (Int64, Int64) -> Bool) -> Bool {
        let index = Self.firstIndex(in: sent, above: timestamp - 1)
        if index < sent.count, sent[index] == timestamp { return false }  // a duplicate time: keep both frames
        let witness = index < sent.count ? sent[index] : nil
        sent.insert(timestamp, at: index)
        guard let witness, unneeded(timestamp, witness) else { return false }
        droppable.insert(timestamp)
        let at = Self.firstIndex(in: witnesses, above: witness - 1)
        if at == witnesses.count || witnesses[at] != witness { witnesses.insert(witness, at: at) }
        return true
    }

    /// Checks a frame the decoder output while the ledger is active.
    /// - Returns: false when a choice made earlier is not borne out (or the frames come out of order).
    mutating func output(_ timestamp: Int64) -> Bool {
        if let lastOutput, timestamp <= lastOutput { return false }
        lastOutput = timestamp
        while let witness = witnesses.first, witness <= timestamp {
            witnesses.removeFirst()
            // A witness that was itself dropped is covered by its own witness.
            if witness < timestamp && !droppable.contains(witness) { return false }
        }
        return true
    }

    /// At the end of the stream every witness must have come out.
    var isBorneOutAtEnd: Bool { witnesses.allSatisfy { droppable.contains($0) } }

    /// The index of the first element of an ascending array greater than `value`.
    private static func firstIndex(in values: [Int64], above value: Int64) -> Int {
        var low = 0, high = values.count
        while low < high {
            let middle = (low + high) / 2
            if values[middle] > value { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
