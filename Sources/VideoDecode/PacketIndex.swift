/// Where a transport or program stream's video keyframes are, and one continuous clock for it, from a scan that
/// demuxes the whole file without decoding (under 1 ms per MB).
///
/// Keyframes: these containers have no index, and FFmpeg's seek by time in them lands wherever a timestamp is
/// near, often between keyframes, where nothing decodes until the next one. With ffmpeg's default GOP of 250
/// frames, every seek into a 10-minute 360p transport stream landed past its target and decoding restarted from
/// the top, until the 5000-frame limit refused the file. Seeking to a keyframe's byte position lands on it.
///
/// Clock: joined recordings (transport or program streams put end to end with `cat`) restart their clock at each
/// join (ffmpeg starts a transport stream at 1.4 s), so a file of three 20-second recordings read as 20 seconds
/// long and its later recordings were never sampled; a recording resumed hours later would read as hours long.
/// The file is cut into sections at each jump, and each section's timestamps are offset to continue one frame
/// after the previous section's last packet, as `ffmpeg -i joined.ts -c copy out.mp4` does. Sections are found by
/// byte position, which a packet read after any seek still carries; a packet without one (MPEG-PS leaves some
/// unplaced) belongs to the section of the last packet that had one.
///
/// Timestamps are the stream's own units. Pure bookkeeping: no FFmpeg.
struct PacketIndex: Equatable {
    /// One video packet as the scan read it.
    struct Packet: Equatable {
        var position: Int64?
        var dts: Int64?
        var pts: Int64?
        var isKey: Bool
        /// 0 when the container does not say.
        var duration: Int64
    }

    /// Where each section starts in the file and what is added to its timestamps, ascending; the first is (0, 0),
    /// the only one when the clock never jumps.
    private(set) var sections: [(position: Int64, offset: Int64)]
    /// Keyframes by continuous presentation time, ascending by position (and so by time, which rises with it).
    private var keyframes: [(time: Int64, position: Int64)]
    private let firstPosition: Int64

    /// Whether the clock jumps, so the container's own timestamps and duration do not hold.
    var isRepaired: Bool { sections.count > 1 }
    /// When the last frame stops showing, on the continuous clock.
    let end: Int64

    /// A decode clock going back by more than this is a restart (as ffmpeg's CLI takes it); decode times rise.
    static let backwardToleranceSeconds = 0.1
    /// The same for a packet timed only by its presentation time, which B-frames take back by a few frames.
    static let presentationBackwardToleranceSeconds = 1.0
    /// A clock going forward by more than this between frames is a join, as ffmpeg's `-dts_delta_threshold`.
    static let forwardLimitSeconds = 10.0

    /// - Returns: nil when no packet has both a position and a time, a jump has no position to start its section
    ///   at, positions go back, or the continuous clock would overflow.
    init?(packets: [Packet], timeBaseSeconds: Double) {
        guard timeBaseSeconds > 0, timeBaseSeconds.isFinite else { return nil }
        func ticks(_ seconds: Double) -> Int64 { Int64(min(seconds / timeBaseSeconds, 1e15).rounded()) }
        let forward = ticks(Self.forwardLimitSeconds)
        let backward = ticks(Self.backwardToleranceSeconds), presentationBackward = ticks(Self.presentationBackwardToleranceSeconds)
        var sections: [(position: Int64, offset: Int64)] = [(0, 0)]
        var previous: Int64?
        var step: Int64 = 1
        var latest: Int64?
        var keyframes: [(time: Int64, position: Int64)] = []
        var lastPosition: Int64 = -1
        var previousPosition: Int64?
        // Hostile timestamps (Ogg's are any 64-bit value) must not trap: any overflow means no repair.
        func sum(_ a: Int64, _ b: Int64) -> Int64? {
            let (value, overflow) = a.addingReportingOverflow(b)
            return overflow ? nil : value
        }
        for packet in packets {
            if let position = packet.position {
                guard position >= lastPosition else { return nil }
                lastPosition = position
            }
            // A packet without a time (MPEG-PS splits some frames from their PES header) runs on the clock as is.
            guard let time = packet.dts ?? packet.pts else {
                if let position = packet.position { previousPosition = position }
                continue
            }
            guard var shifted = sum(time, sections[sections.count - 1].offset) else { return nil }
            if let previous {
                guard let delta = sum(shifted, -previous) else { return nil }
                if delta < -(packet.dts == nil ? presentationBackward : backward) || delta > forward {
                    // A section must start at a position no earlier packet shares.
                    guard let position = packet.position, position > sections[sections.count - 1].position,
                          previousPosition.map({ position > $0 }) ?? true,
                          let next = sum(previous, step), let offset = sum(next, -time) else { return nil }
                    sections.append((position, offset))
                    shifted = next
                } else if delta > 0 {
                    step = packet.duration > 0 ? packet.duration : delta
                }
            }
            // The clock's last value: decode times rise, presentation times may not.
            previous = max(previous ?? shifted, shifted)
            if let pts = packet.pts {
                guard let time = sum(pts, sections[sections.count - 1].offset) else { return nil }
                latest = max(latest ?? time, time)
                if packet.isKey, let position = packet.position { keyframes.append((time, position)) }
            }
            if let position = packet.position { previousPosition = position }
        }
        guard let latest, let end = sum(latest, step), let first = packets.lazy.compactMap(\.position).first else {
            return nil
        }
        self.sections = sections
        self.keyframes = keyframes
        firstPosition = first
        self.end = end
    }

    static func == (a: PacketIndex, b: PacketIndex) -> Bool {
        a.sections.elementsEqual(b.sections, by: ==) && a.keyframes.elementsEqual(b.keyframes, by: ==) && a.end == b.end
    }

    /// What to add to the timestamps of a packet read at `position`, and of the packets without a position after it.
    func offset(at position: Int64) -> Int64 {
        sections[Self.lastIndex(in: sections.count, where: { sections[$0].position <= position }) ?? 0].offset
    }

    /// The last keyframe shown at or before `time` (continuous), or nil before the first.
    func keyframe(atOrBefore time: Int64) -> (time: Int64, position: Int64)? {
        Self.lastIndex(in: keyframes.count, where: { keyframes[$0].time <= time }).map { keyframes[$0] }
    }

    /// Where to seek for `time`: the last keyframe shown at or before it, or the first packet.
    func keyframePosition(atOrBefore time: Int64) -> Int64 {
        keyframe(atOrBefore: time)?.position ?? firstPosition
    }

    /// The last index below `count` where `holds` is true, for a predicate true up to some index and false after
    /// (a binary search: a hostile file may have a section per packet).
    private static func lastIndex(in count: Int, where holds: (Int) -> Bool) -> Int? {
        var low = 0, high = count
        while low < high {
            let middle = (low + high) / 2
            if holds(middle) { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? nil : low - 1
    }
}
