import Foundation

/// Videos made on the fly by the ffmpeg CLI, cached for the test run.
public enum TestVideos {
    public static let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("r2plus1d-videos-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
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

    static func runFFmpeg(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "ffmpeg", code: Int(process.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: String(decoding: message, as: UTF8.self)])
        }
    }

    public static func lavfi(_ source: String) -> [String] { ["-f", "lavfi", "-i", source] }

    /// H.264 in mp4 with B-frames, 320x240, 30 fps.
    public static func h264(seconds: Int = 4, gop: Int = 60, faststart: Bool = false) throws -> Data {
        try make("h264_\(seconds)s_gop\(gop)\(faststart ? "_fast" : "").mp4",
                 lavfi("testsrc2=size=320x240:rate=30") + ["-t", "\(seconds)", "-c:v", "libx264", "-preset", "ultrafast",
                 "-bf", "2", "-g", "\(gop)", "-pix_fmt", "yuv420p"] + (faststart ? ["-movflags", "+faststart"] : []))
    }
}
