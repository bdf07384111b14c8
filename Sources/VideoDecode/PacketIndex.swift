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
struct PacketIndex: Equatable, Sendable {
    /// One video packet as the scan read it.
    struct Packet: Equatable, Sendable {
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

    /// The index of `packets`, in file order (tests; the demuxer feeds a `Builder` as it reads).
    init?(packets: [Packet], timeBaseSeconds: Double) {
        guard var builder = Builder(timeBaseSeconds: timeBaseSeconds) else { return nil }
        for packet in packets where !builder.add(packet) { return nil }
        guard let index = builder.finish() else { return nil }
        self = index
    }

    fileprivate init(sections: [(position: Int64, offset: Int64)], keyframes: [(time: Int64, position: Int64)], firstPosition: Int64,
                     end: Int64) {
        (self.sections, self.keyframes, self.firstPosition, self.end) = (sections, keyframes, firstPosition, end)
    }

    /// Builds the index one packet at a time, keeping only sections and keyframes: a hostile file of tiny access
    /// units has millions of packets.
    struct Builder {
        /// Past this many sections or keyframes the index is given up (an hour of 60 fps intra-only video has 216,000).
        static let maxEntries = 1_000_000

        private let forward: Int64, backward: Int64, presentationBackward: Int64
        private var sections: [(position: Int64, offset: Int64)] = [(0, 0)]
        private var keyframes: [(time: Int64, position: Int64)] = []
        private var previous: Int64?
        private var step: Int64 = 1
        private var latest: Int64?
        private var lastPosition: Int64 = -1
        private var previousPosition: Int64?
        private var firstPosition: Int64?

        init?(timeBaseSeconds: Double) {
            guard timeBaseSeconds > 0, timeBaseSeconds.isFinite else { return nil }
            func ticks(_ seconds: Double) -> Int64 { Int64(min(seconds / timeBaseSeconds, 1e15).rounded()) }
            forward = ticks(PacketIndex.forwardLimitSeconds)
            backward = ticks(PacketIndex.backwardToleranceSeconds)
            presentationBackward = ticks(PacketIndex.presentationBackwardToleranceSeconds)
        }

        /// Hostile timestamps must not trap: any overflow gives the index up.
        private static func sum(_ a: Int64, _ b: Int64) -> Int64? {
            let (value, overflow) = a.addingReportingOverflow(b)
            return overflow ? nil : value
        }

        /// Takes the next packet in file order.
        /// - Returns: false when no index can be built: a jump with no position to start its section at, positions
        ///   that go back, a clock that would overflow, or too many entries.
        mutating func add(_ packet: Packet) -> Bool {
            if let position = packet.position {
                guard position >= lastPosition else { return false }
                lastPosition = position
                if firstPosition == nil { firstPosition = position }
            }
            // A packet without a time (MPEG-PS splits some frames from their PES header) runs on the clock as is.
            guard let time = packet.dts ?? packet.pts else {
                if let position = packet.position { previousPosition = position }
                return true
            }
            guard var shifted = Self.sum(time, sections[sections.count - 1].offset) else { return false }
            if let previous {
                guard let delta = Self.sum(shifted, -previous) else { return false }
                if delta < -(packet.dts == nil ? presentationBackward : backward) || delta > forward {
                    // A section must start at a position no earlier packet shares.
                    guard let position = packet.position, position > sections[sections.count - 1].position,
                          previousPosition.map({ position > $0 }) ?? true, sections.count < Self.maxEntries,
                          let next = Self.sum(previous, step), let offset = Self.sum(next, -time) else { return false }
                    sections.append((position, offset))
                    shifted = next
                } else if delta > 0 {
                    step = packet.duration > 0 ? packet.duration : delta
                }
            }
            // The clock's last value: decode times rise, presentation times may not.
            previous = max(previous ?? shifted, shifted)
            if let pts = packet.pts {
                guard let time = Self.sum(pts, sections[sections.count - 1].offset) else { return false }
                latest = max(latest ?? time, time)
                if packet.isKey, let position = packet.position {
                    guard keyframes.count < Self.maxEntries else { return false }
                    keyframes.append((time, position))
                }
            }
            if let position = packet.position { previousPosition = position }
            return true
        }

        /// The index, or nil when no packet had both a position and a presentation time.
        func finish() -> PacketIndex? {
            guard let latest, let end = Self.sum(latest, step), let firstPosition else { return nil }
            return PacketIndex(sections: sections, keyframes: keyframes, firstPosition: firstPosition, end: end)
        }
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
