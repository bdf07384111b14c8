import Foundation

/// Videos made on the fly by the ffmpeg CLI, cached for the test run.
public enum TestVideos {
    public static let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("r2plus1d-videos-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        // A whole run leaves about 3 GB here: removed when the test process exits, or repeated runs fill the disk.
        atexit { try? FileManager.default.removeItem(at: TestVideos.directory) }
        return url
    }()

    private static let lock = NSLock()

    /// Runs `ffmpeg -y -loglevel error ARGS... OUT` once and returns the file's bytes.
    public static func make(_ name: String, _ arguments: [String]) throws -> Data {
        lock.lock()
        defer { lock.unlock() }
        let output = directory.appendingPathComponent(name)
        if !FileManager.default.fileExists(atPath: output.path) {
            try runFFmpeg("ffmpeg", ["-y", "-loglevel", "error", "-nostdin"] + arguments + [output.path])
        }
        return try Data(contentsOf: output)
    }

    /// Runs an FFmpeg tool and returns what it printed (stdout and stderr in one pipe, so neither can fill and block).
    @discardableResult
    static func runFFmpeg(_ tool: String, _ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        // The malloc checker run (scripts/test.sh) watches the decoder, not the encoders: libx265 corrupts its own
        // heap on some tiny frames.
        var environment = ProcessInfo.processInfo.environment
        environment["LD_PRELOAD"] = nil
        environment["MALLOC_CHECK_"] = nil
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let message = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: tool, code: Int(process.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: String(decoding: message, as: UTF8.self)])
        }
        return message
    }

    /// What ffprobe reports for the first video stream of a file `make` made: `width`, `height`, `pix_fmt`,
    /// `color_range`, `codec_name`.
    public static func probe(_ name: String) throws -> [String: String] {
        let output = try runFFmpeg("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                               "stream=width,height,pix_fmt,color_range,codec_name", "-of",
                                               "default=noprint_wrappers=1", directory.appendingPathComponent(name).path])
        var fields: [String: String] = [:]
        for line in String(decoding: output, as: UTF8.self).split(separator: "\n") {
            let pair = line.split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2 { fields[pair[0]] = pair[1] }
        }
        return fields
    }

    /// FFmpeg's own reading of the first video packet's headers (parameter sets included) of a file `make` made:
    /// the `trace_headers` filter's log, one syntax element a line ("... name  bits = value").
    public static func traceHeaders(_ name: String) throws -> String {
        let output = try runFFmpeg("ffmpeg", ["-v", "trace", "-nostdin", "-i", directory.appendingPathComponent(name).path, "-map", "0:v:0",
                                              "-c", "copy", "-bsf:v", "trace_headers", "-frames:v", "1", "-f", "null", "-"])
        return String(decoding: output, as: UTF8.self)
    }

    public static func lavfi(_ source: String) -> [String] { ["-f", "lavfi", "-i", source] }

    /// H.264 in mp4 with B-frames, 320x240, 30 fps.
    public static func h264(seconds: Int = 4, gop: Int = 60, faststart: Bool = false) throws -> Data {
        try make("h264_\(seconds)s_gop\(gop)\(faststart ? "_fast" : "").mp4",
                 lavfi("testsrc2=size=320x240:rate=30") + ["-t", "\(seconds)", "-c:v", "libx264", "-preset", "ultrafast",
                 "-bf", "2", "-g", "\(gop)", "-pix_fmt", "yuv420p"] + (faststart ? ["-movflags", "+faststart"] : []))
    }
}
