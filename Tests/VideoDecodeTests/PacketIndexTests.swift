import Testing
@testable import VideoDecode

/// The scan's index of a transport or program stream: keyframes by position, and one clock for files that are
/// several recordings end to end (joined with `cat`), whose clock restarts or jumps at each join. Times here are
/// in a 90 kHz time base, 25 frames a second (3600 ticks a frame), positions in bytes.
@Suite struct PacketIndexTests {
    static let frame: Int64 = 3600

    /// `count` packets in decode order from `first` (dts), I-frames every `gop`, positions from `position`, 1000
    /// bytes apart; pts = dts + 2 frames (an H.264 stream with B-frames, as shown, would reorder; the dts order is
    /// what counts).
    static func section(first: Int64, count: Int, position: Int64, gop: Int = 10, withDTS: Bool = true) -> [PacketIndex.Packet] {
        (0..<count).map { i in
            let dts = first + Int64(i) * frame
            return PacketIndex.Packet(position: position + Int64(i) * 1000, dts: withDTS ? dts : nil, pts: dts + 2 * frame,
                                          isKey: i % gop == 0, duration: 0)
        }
    }

    @Test func aSteadyClockNeedsNoRepairButIndexesItsKeyframes() throws {
        let index = try #require(PacketIndex(packets: Self.section(first: 126_000, count: 100, position: 0), timeBaseSeconds: 1.0 / 90000))
        #expect(!index.isRepaired)
        #expect(index.offset(at: 99_000) == 0)
        #expect(index.end == 126_000 + 102 * Self.frame)
        // Keyframes every 10 packets show 2 frames after their decode time.
        let keyframe = try #require(index.keyframe(atOrBefore: 126_000 + 33 * Self.frame))
        #expect(keyframe.time == 126_000 + 32 * Self.frame && keyframe.position == 30_000)
        #expect(index.keyframe(atOrBefore: 126_000 + Self.frame) == nil)
        #expect(index.keyframePosition(atOrBefore: 126_000 + Self.frame) == 0)
    }

    @Test func presentationOrderIsNoJump() {
        // Without decode timestamps, pts go back at every B-frame: here by three frames (0.12 s), more than a decode
        // clock may go back.
        var packets = Self.section(first: 126_000, count: 50, position: 0, withDTS: false)
        for i in stride(from: 1, to: 45, by: 5) { (packets[i].pts, packets[i + 3].pts) = (packets[i + 3].pts, packets[i].pts) }
        #expect(PacketIndex(packets: packets, timeBaseSeconds: 1.0 / 90000)?.isRepaired == false)
    }

    @Test func aClockThatRestartsContinuesFromTheLastFrame() throws {
        // Three 2-second recordings, each starting at 1.4 s (126,000 ticks), as ffmpeg writes a transport stream.
        let packets = Self.section(first: 126_000, count: 50, position: 0)
            + Self.section(first: 126_000, count: 50, position: 50_000)
            + Self.section(first: 126_000, count: 50, position: 100_000)
        let repair = try #require(PacketIndex(packets: packets, timeBaseSeconds: 1.0 / 90000))
        #expect(repair.isRepaired)
        #expect(repair.offset(at: 0) == 0)
        #expect(repair.offset(at: 49_000) == 0)
        #expect(repair.offset(at: 50_000) == 50 * Self.frame)
        #expect(repair.offset(at: 99_999) == 50 * Self.frame)
        #expect(repair.offset(at: 100_000) == 100 * Self.frame)
        #expect(repair.offset(at: 1_000_000) == 100 * Self.frame)
        // The last frame shows at 126,000 + 151 frames (pts = dts + 2), for one frame.
        #expect(repair.end == 126_000 + 152 * Self.frame)
    }

    @Test func aJoinOfShortRecordingsIsFound() throws {
        // Half-second recordings: their decode clock goes back by less than a second at the join.
        let packets = Self.section(first: 126_000, count: 12, position: 0) + Self.section(first: 126_000, count: 12, position: 20_000)
        let repair = try #require(PacketIndex(packets: packets, timeBaseSeconds: 1.0 / 90000))
        #expect(repair.offset(at: 20_000) == 12 * Self.frame)
    }

    @Test func aClockThatJumpsAheadIsClosedUp() throws {
        // A recording resumed an hour later.
        let packets = Self.section(first: 0, count: 30, position: 0) + Self.section(first: 3600 * 90000, count: 30, position: 40_000)
        let repair = try #require(PacketIndex(packets: packets, timeBaseSeconds: 1.0 / 90000))
        #expect(repair.offset(at: 40_000) == 30 * Self.frame - 3600 * 90000)
        #expect(repair.end == 62 * Self.frame)
    }

    @Test func shortGapsAndJitterAreKept() {
        // A 5-second gap (a camera that paused) and one frame's jitter backwards stay as they are.
        var packets = Self.section(first: 0, count: 30, position: 0) + Self.section(first: 35 * Self.frame + 5 * 90000, count: 30, position: 40_000)
        packets[10].dts = packets[10].dts.map { $0 - Self.frame - Self.frame / 2 }
        #expect(PacketIndex(packets: packets, timeBaseSeconds: 1.0 / 90000)?.isRepaired == false)
    }

    @Test func keyframesAreFoundByTheirContinuousTime() throws {
        let packets = Self.section(first: 126_000, count: 50, position: 0) + Self.section(first: 126_000, count: 50, position: 50_000)
        let repair = try #require(PacketIndex(packets: packets, timeBaseSeconds: 1.0 / 90000))
        // Keyframes show at 126,000 + (k + 2) frames; the second recording's first at 126,000 + 52 frames.
        #expect(repair.keyframePosition(atOrBefore: 126_000 + 52 * Self.frame) == 50_000)
        #expect(repair.keyframePosition(atOrBefore: 126_000 + 52 * Self.frame - 1) == 40_000)
        #expect(repair.keyframePosition(atOrBefore: 126_000 + 62 * Self.frame) == 60_000)
        #expect(repair.keyframePosition(atOrBefore: 10 * 90000) == 90_000)
        // Before the first keyframe shows: the first packet.
        #expect(repair.keyframePosition(atOrBefore: 0) == 0)
    }

    @Test func packetsWithoutAPositionOrTimeBelongToTheSectionBeforeThem() throws {
        // MPEG-PS leaves some packets unplaced or untimed; only a jump needs a position to start its section at.
        var packets = Self.section(first: 126_000, count: 50, position: 0) + Self.section(first: 126_000, count: 50, position: 50_000)
        packets[49].position = nil
        packets[55].position = nil
        (packets[56].dts, packets[56].pts) = (nil, nil)
        let repair = try #require(PacketIndex(packets: packets, timeBaseSeconds: 1.0 / 90000))
        #expect(repair.offset(at: 50_000) == 50 * Self.frame)
        packets[50].position = nil
        #expect(PacketIndex(packets: packets, timeBaseSeconds: 1.0 / 90000) == nil)
    }

    @Test func aJumpInsideAPageOrBackwardsInTheFileIsNotRepaired() {
        // Ogg puts several packets at one page's position; a section cannot start in the middle of one.
        var packets = Self.section(first: 126_000, count: 50, position: 0) + Self.section(first: 126_000, count: 50, position: 50_000)
        packets[50].position = packets[49].position
        #expect(PacketIndex(packets: packets, timeBaseSeconds: 1.0 / 90000) == nil)
        packets[50].position = 1_000
        #expect(PacketIndex(packets: packets, timeBaseSeconds: 1.0 / 90000) == nil)
    }

    @Test func timestampsAtTheEdgesOfTheRangeDoNotTrap() {
        for huge in [Int64.max, Int64.min + 1, Int64.max - 3600] {
            let packets = Self.section(first: 0, count: 10, position: 0)
                + [PacketIndex.Packet(position: 20_000, dts: huge, pts: huge, isKey: true, duration: 0)]
                + Self.section(first: 0, count: 10, position: 30_000)
            _ = PacketIndex(packets: packets, timeBaseSeconds: 1.0 / 90000)
        }
        #expect(PacketIndex(packets: Self.section(first: 0, count: 10, position: 0), timeBaseSeconds: 0) == nil)
        #expect(PacketIndex(packets: Self.section(first: 0, count: 10, position: 0), timeBaseSeconds: .infinity) == nil)
    }

    @Test func aJumpAtEveryPacketIsPlacedPacketByPacket() throws {
        // 200,000 packets alternating between two clocks an hour apart: a section each, looked up by binary search.
        let hour: Int64 = 3600 * 90000
        let packets = (0..<200_000).map { i in
            let time: Int64 = i % 2 == 0 ? 0 : hour
            return PacketIndex.Packet(position: Int64(i) * 188, dts: time, pts: time, isKey: i % 10 == 0, duration: 0)
        }
        // Built first, so a failure does not print 200,000 packets.
        let built = PacketIndex(packets: packets, timeBaseSeconds: 1.0 / 90000)
        let index = try #require(built)
        #expect(index.sections.count == 200_000)
        // With no frame step known, each packet continues one tick after the one before: packet i shows at tick i.
        for i in stride(from: 0, to: 200_000, by: 997) {
            let expected = Int64(i) - (i % 2 == 0 ? 0 : hour)
            #expect(index.offset(at: Int64(i) * 188) == expected, "packet \(i)")
            #expect(index.offset(at: Int64(i) * 188 + 100) == expected, "inside packet \(i)")
            // Keyframes every 10 packets, at ticks 0, 10, 20, ...
            #expect(index.keyframePosition(atOrBefore: Int64(i)) == Int64(i / 10 * 10) * 188, "keyframe before \(i)")
        }
        #expect(index.end == 200_000)
    }

    @Test func tooManySectionsGiveTheIndexUp() {
        let packets = (0..<(PacketIndex.Builder.maxEntries + 2)).lazy.map { i in
            PacketIndex.Packet(position: Int64(i), dts: i % 2 == 0 ? 0 : 3600 * 90000, pts: nil, isKey: false, duration: 0)
        }
        var builder = PacketIndex.Builder(timeBaseSeconds: 1.0 / 90000)!
        #expect(!packets.allSatisfy { builder.add($0) })
    }
}
