import VideoDecode

/// The messages between the server and a decode worker, one per SOCK_SEQPACKET datagram; the video's bytes and
/// the clip tensors travel through shared memory beside them, never through the socket.
///
/// ```
/// hello    "R2DH"                       (once, when the worker's sandbox is in place)
/// request  "R2DQ" seq:u64 videoBytes:u64 clips:u32 rangeStart:f64 rangeEnd:f64   (both NaN: the whole video)
/// reply    "R2DR" seq:u64 0:u8  clips:u32 width:i32 height:i32 rotation:i32 fps:f64 duration:f64
///                 container:str codec:str decodedFrames:u32 decodeSeconds:f64 frameTimes:f64[clips*16] spans:f64[clips*2]
///          "R2DR" seq:u64 1:u8  kind:str message:str
/// walk     "R2DW" seq:u64 videoBytes:u64 chunk:u32 window:f64 stride:f64 start:f64 end:f64   (end NaN: the video's end)
///   chunk  "R2DR" seq:u64 2:u8  then as a decoded reply, with 1 to `chunk` clips: a walk's next windows
///   go on  "R2DC" seq:u64 more:u8   (the server, after each chunk: 1 decode the next, 0 stop)
///   end    "R2DR" seq:u64 3:u8      (the walk is complete; a failure ends it as a failed reply does)
/// str = length:u16 + UTF-8; integers and floats little-endian
/// ```
///
/// The server reads a reply as untrusted input: every count, size and number is checked against what it asked
/// for before anything is believed (`decodeReply`).
public enum WorkerWire {
    public static let maxMessageBytes = 1 << 20
    /// A worker's first message: its sandbox is in place.
    static let hello = Array("R2DH".utf8)
    static let maxString = 1024

    public struct Request: Equatable, Sendable {
        public var sequence: UInt64
        public var videoBytes: Int
        public var clips: Int
        public var range: ClosedRange<Double>?

        public init(sequence: UInt64, videoBytes: Int, clips: Int, range: ClosedRange<Double>? = nil) {
            self.sequence = sequence
            self.videoBytes = videoBytes
            self.clips = clips
            self.range = range
        }
    }

    /// What a worker says it decoded; the clip tensors are in the shared output region.
    public struct Decoded: Equatable, Sendable {
        public var info: VideoInfo
        public var clips: Int
        public var decodedFrames: Int
        /// The worker's own time for the decode, so the server can tell what the sandbox costs.
        public var decodeSeconds: Double = 0
        public var frameTimes: [[Double]]
        public var spans: [ClipSpan]
    }

    public enum Reply: Equatable, Sendable {
        case decoded(Decoded)
        case failed(DecodeError)
    }

    /// A timeline's decode: every window of `grid`, walking the video forward once, `chunk` clips at a time.
    public struct WalkRequest: Equatable, Sendable {
        public var sequence: UInt64
        public var videoBytes: Int
        public var chunk: Int
        public var grid: WindowGrid

        public init(sequence: UInt64, videoBytes: Int, chunk: Int, grid: WindowGrid) {
            self.sequence = sequence
            self.videoBytes = videoBytes
            self.chunk = chunk
            self.grid = grid
        }
    }

    public enum WalkReply: Equatable, Sendable {
        case chunk(Decoded)
        case end
        case failed(DecodeError)
    }

    /// Either request a worker may receive.
    public enum AnyRequest: Equatable, Sendable {
        case decode(Request)
        case walk(WalkRequest)
    }

    /// A reply the server cannot trust; the worker that sent it is killed.
    public struct ProtocolError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    // MARK: - Encoding

    public static func encode(_ request: Request) -> [UInt8] {
        var w = Writer()
        w.magic("R2DQ")
        w.u64(request.sequence)
        w.u64(UInt64(request.videoBytes))
        w.u32(UInt32(request.clips))
        w.f64(request.range?.lowerBound ?? .nan)
        w.f64(request.range?.upperBound ?? .nan)
        return w.bytes
    }

    public static func encode(_ walk: WalkRequest) -> [UInt8] {
        var w = Writer()
        w.magic("R2DW")
        w.u64(walk.sequence)
        w.u64(UInt64(walk.videoBytes))
        w.u32(UInt32(walk.chunk))
        w.f64(walk.grid.windowSeconds)
        w.f64(walk.grid.strideSeconds)
        w.f64(walk.grid.startSeconds)
        w.f64(walk.grid.endSeconds ?? .nan)
        return w.bytes
    }

    /// What the server says after each chunk of a walk.
    public static func encodeGoOn(sequence: UInt64, more: Bool) -> [UInt8] {
        var w = Writer()
        w.magic("R2DC")
        w.u64(sequence)
        w.u8(more ? 1 : 0)
        return w.bytes
    }

    /// - Returns: whether to decode the next chunk of walk `sequence`.
    public static func decodeGoOn(_ bytes: [UInt8], sequence: UInt64) throws(ProtocolError) -> Bool {
        var r = Reader(bytes)
        try r.magic("R2DC")
        guard try r.u64() == sequence else { throw ProtocolError(description: "an answer for another walk") }
        let more = try r.u8()
        try r.end()
        guard more <= 1 else { throw ProtocolError(description: "neither go on nor stop") }
        return more == 1
    }

    public static func decodeAnyRequest(_ bytes: [UInt8]) throws(ProtocolError) -> AnyRequest {
        guard bytes.starts(with: Array("R2DW".utf8)) else { return .decode(try decodeRequest(bytes)) }
        var r = Reader(bytes)
        try r.magic("R2DW")
        let sequence = try r.u64()
        let videoBytes = try r.u64()
        let chunk = try r.u32()
        let window = try r.f64(), stride = try r.f64(), start = try r.f64(), end = try r.f64()
        try r.end()
        guard videoBytes <= UInt64(Int.max), chunk >= 1 else { throw ProtocolError(description: "walk sizes out of range") }
        guard window.isFinite, window > 0, stride.isFinite, stride > 0, start.isFinite, start >= 0,
              end.isNaN || (end.isFinite && end > start)
        else { throw ProtocolError(description: "bad window grid") }
        return .walk(WalkRequest(sequence: sequence, videoBytes: Int(videoBytes), chunk: Int(chunk),
                                 grid: WindowGrid(windowSeconds: window, strideSeconds: stride, startSeconds: start,
                                                  endSeconds: end.isNaN ? nil : end)))
    }

    public static func decodeRequest(_ bytes: [UInt8]) throws(ProtocolError) -> Request {
        var r = Reader(bytes)
        try r.magic("R2DQ")
        let sequence = try r.u64()
        let videoBytes = try r.u64()
        let clips = try r.u32()
        let start = try r.f64(), end = try r.f64()
        try r.end()
        guard videoBytes <= UInt64(Int.max) else { throw ProtocolError(description: "video size out of range") }
        var range: ClosedRange<Double>?
        if !start.isNaN || !end.isNaN {
            guard start.isFinite, end.isFinite, start >= 0, start <= end else { throw ProtocolError(description: "bad time range") }
            range = start...end
        }
        return Request(sequence: sequence, videoBytes: Int(videoBytes), clips: Int(clips), range: range)
    }

    public static func encode(_ reply: Reply, sequence: UInt64) -> [UInt8] {
        var w = Writer()
        w.magic("R2DR")
        w.u64(sequence)
        switch reply {
        case .decoded(let d):
            w.u8(0)
            w.decoded(d)
        case .failed(let error):
            w.u8(1)
            w.string(error.kind.description)
            w.string(error.description)
        }
        return w.bytes
    }

    public static func encode(_ reply: WalkReply, sequence: UInt64) -> [UInt8] {
        switch reply {
        case .failed(let error): return encode(Reply.failed(error), sequence: sequence)
        case .chunk(let d):
            var w = Writer()
            w.magic("R2DR")
            w.u64(sequence)
            w.u8(2)
            w.decoded(d)
            return w.bytes
        case .end:
            var w = Writer()
            w.magic("R2DR")
            w.u64(sequence)
            w.u8(3)
            return w.bytes
        }
    }

    static func encodeDecoded(_ d: Decoded, into w: inout Writer) {
        w.u32(UInt32(d.clips))
        w.i32(Int32(clamping: d.info.width))
        w.i32(Int32(clamping: d.info.height))
        w.i32(Int32(clamping: d.info.rotation))
        w.f64(d.info.fps)
        w.f64(d.info.durationSeconds)
        w.string(d.info.container)
        w.string(d.info.codec)
        w.u32(UInt32(clamping: d.decodedFrames))
        w.f64(d.decodeSeconds)
        for clip in d.frameTimes { for t in clip { w.f64(t) } }
        for span in d.spans {
            w.f64(span.start_s)
            w.f64(span.end_s)
        }
    }

    /// Reads a worker's reply to `request`, trusting nothing: the sequence, the clip count, every length and
    /// every number must be what was asked for and sane.
    /// - Parameter maxDimension: the decode limit the worker runs with.
    public static func decodeReply(_ bytes: [UInt8], for request: Request, maxDimension: Int) throws(ProtocolError) -> Reply {
        var r = Reader(bytes)
        try r.magic("R2DR")
        guard try r.u64() == request.sequence else { throw ProtocolError(description: "reply to another request") }
        switch try r.u8() {
        case 0:
            return .decoded(try r.decoded(clips: request.clips...request.clips, maxDimension: maxDimension))
        case 1:
            return .failed(try r.failure())
        default:
            throw ProtocolError(description: "unknown outcome")
        }
    }

    /// Reads a worker's reply during `walk`, trusting nothing, as `decodeReply` does; a chunk holds 1 to
    /// `walk.chunk` clips.
    public static func decodeWalkReply(_ bytes: [UInt8], for walk: WalkRequest, maxDimension: Int) throws(ProtocolError) -> WalkReply {
        var r = Reader(bytes)
        try r.magic("R2DR")
        guard try r.u64() == walk.sequence else { throw ProtocolError(description: "reply to another request") }
        switch try r.u8() {
        case 1:
            return .failed(try r.failure())
        case 2:
            return .chunk(try r.decoded(clips: 1...walk.chunk, maxDimension: maxDimension))
        case 3:
            try r.end()
            return .end
        default:
            throw ProtocolError(description: "unknown outcome")
        }
    }

    static func readDecoded(_ r: inout Reader, clipsAllowed: ClosedRange<Int>, maxDimension: Int) throws(ProtocolError) -> Decoded {
        let clips = Int(try r.u32())
        guard clipsAllowed.contains(clips) else { throw ProtocolError(description: "\(clips) clips for \(clipsAllowed) asked") }
        let width = Int(try r.i32()), height = Int(try r.i32()), rotation = Int(try r.i32())
        let fps = try r.f64(), duration = try r.f64()
        guard (1...maxDimension).contains(width), (1...maxDimension).contains(height), [0, 90, 180, 270].contains(rotation),
              fps.isFinite, fps >= 0, duration.isFinite, duration >= 0
        else { throw ProtocolError(description: "video metadata out of range") }
        let container = try r.string(), codec = try r.string()
        let decodedFrames = Int(try r.u32())
        let decodeSeconds = try r.finite()
        let frames = ClipSpec.kinetics.frames
        var frameTimes: [[Double]] = []
        for _ in 0..<clips {
            var times: [Double] = []
            for _ in 0..<frames { times.append(try r.finite()) }
            frameTimes.append(times)
        }
        var spans: [ClipSpan] = []
        for _ in 0..<clips {
            let start = try r.finite(), end = try r.finite()
            guard start <= end else { throw ProtocolError(description: "a clip span ends before it starts") }
            spans.append(ClipSpan(start_s: start, end_s: end))
        }
        try r.end()
        let info = VideoInfo(container: container, codec: codec, width: width, height: height, fps: fps,
                             durationSeconds: duration, rotation: rotation)
        return Decoded(info: info, clips: clips, decodedFrames: decodedFrames, decodeSeconds: max(0, decodeSeconds),
                       frameTimes: frameTimes, spans: spans)
    }

    // MARK: - Bytes

    struct Writer {
        var bytes: [UInt8] = []
        mutating func decoded(_ d: Decoded) { WorkerWire.encodeDecoded(d, into: &self) }
        mutating func magic(_ text: StaticString) { bytes += UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount) }
        mutating func u8(_ v: UInt8) { bytes.append(v) }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        mutating func f64(_ v: Double) { u64(v.bitPattern) }
        mutating func string(_ s: String) {
            let utf8 = Array(s.utf8.prefix(WorkerWire.maxString))
            withUnsafeBytes(of: UInt16(utf8.count).littleEndian) { bytes += $0 }
            bytes += utf8
        }
    }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func take(_ n: Int) throws(ProtocolError) -> ArraySlice<UInt8> {
            guard n <= bytes.count - offset else { throw ProtocolError(description: "message ends early") }
            defer { offset += n }
            return bytes[offset..<offset + n]
        }
        mutating func magic(_ text: StaticString) throws(ProtocolError) {
            let expected = Array(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
            guard Array(try take(expected.count)) == expected else { throw ProtocolError(description: "not a worker message") }
        }
        mutating func u8() throws(ProtocolError) -> UInt8 { try take(1).first! }
        mutating func u16() throws(ProtocolError) -> UInt16 { try take(2).reversed().reduce(0) { $0 << 8 | UInt16($1) } }
        mutating func u32() throws(ProtocolError) -> UInt32 { try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        mutating func i32() throws(ProtocolError) -> Int32 { Int32(bitPattern: try u32()) }
        mutating func u64() throws(ProtocolError) -> UInt64 { try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        mutating func f64() throws(ProtocolError) -> Double { Double(bitPattern: try u64()) }
        mutating func finite() throws(ProtocolError) -> Double {
            let v = try f64()
            guard v.isFinite else { throw ProtocolError(description: "a time is not finite") }
            return v
        }
        mutating func string() throws(ProtocolError) -> String {
            let n = Int(try u16())
            guard n <= WorkerWire.maxString else { throw ProtocolError(description: "string too long") }
            guard let s = String(validating: try take(n), as: UTF8.self) else { throw ProtocolError(description: "string not UTF-8") }
            return s
        }
        mutating func decoded(clips: ClosedRange<Int>, maxDimension: Int) throws(ProtocolError) -> Decoded {
            try WorkerWire.readDecoded(&self, clipsAllowed: clips, maxDimension: maxDimension)
        }
        mutating func failure() throws(ProtocolError) -> DecodeError {
            let kind = try string(), message = try string()
            try end()
            return DecodeError(kindNamed: kind, message: message)
        }
        func end() throws(ProtocolError) {
            guard offset == bytes.count else { throw ProtocolError(description: "trailing bytes") }
        }
    }
}
