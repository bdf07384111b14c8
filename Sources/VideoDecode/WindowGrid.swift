import Foundation

/// Where a timeline's windows fall: `windowSeconds` long, one every `strideSeconds`, from `startSeconds` while a
/// window still starts before `endSeconds` (or the video's end); the last may be shorter. Each window is sampled
/// by the one clip a single-clip decode restricted to its range would take.
public struct WindowGrid: Sendable, Equatable {
    public var windowSeconds: Double
    public var strideSeconds: Double
    public var startSeconds: Double
    /// nil: the end of the video.
    public var endSeconds: Double?

    public init(windowSeconds: Double, strideSeconds: Double, startSeconds: Double = 0, endSeconds: Double? = nil) {
        self.windowSeconds = windowSeconds
        self.strideSeconds = strideSeconds
        self.startSeconds = startSeconds
        self.endSeconds = endSeconds
    }

    /// The windows' time ranges over a video of `duration` seconds.
    public func windows(duration: Double) -> [ClosedRange<Double>] {
        let end = min(endSeconds ?? duration, duration)
        var ranges: [ClosedRange<Double>] = []
        var k = 0
        while true {
            let a = startSeconds + Double(k) * strideSeconds
            guard a < end - 1e-9 else { break }
            ranges.append(a...min(a + windowSeconds, end))
            k += 1
        }
        return ranges
    }

    /// Each window's clip start over a video of `duration` seconds, ascending.
    public func clipStarts(duration: Double) -> [Double] {
        windows(duration: duration).map(Self.clipStart)
    }

    /// The clip a window is sampled by: the one a single-clip decode restricted to the window's range takes.
    public static func clipStart(_ window: ClosedRange<Double>) -> Double {
        window.lowerBound + ClipSampling.clipStarts(duration: window.upperBound - window.lowerBound, count: 1)[0]
    }
}

extension ClipDecoder {
    /// Decodes every window of `grid` walking the video forward once, `chunk` windows at a time (see
    /// `walk(_:chunk:limits:starts:body:)`).
    /// - Throws: `DecodeError`, `.nothingDecodable` when no window starts before the video's end; what `body` throws.
    public static func walk(_ bytes: Data, grid: WindowGrid, chunk: Int, limits: DecodeLimits = .default,
                            body: (DecodedClips) throws -> Bool) throws -> VideoInfo {
        var empty = false
        let info = try walk(bytes, chunk: chunk, limits: limits, starts: { duration in
            let starts = grid.clipStarts(duration: duration)
            empty = starts.isEmpty
            return starts
        }, body: body)
        if empty {
            throw DecodeError.nothingDecodable(
                detail: String(format: "no window starts before the end of the video (%.2f s) from start_s %.2f", info.durationSeconds, grid.startSeconds))
        }
        return info
    }
}
