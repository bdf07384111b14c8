/// What the container and the stream say about a video.
public struct VideoInfo: Sendable, Equatable, Codable {
    /// libavformat's demuxer name, such as "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm".
    public var container: String
    /// The decoder's name, such as "h264".
    public var codec: String
    /// Width and height as stored (before rotation).
    public var width: Int
    public var height: Int
    public var fps: Double
    public var durationSeconds: Double
    /// Clockwise degrees the frames are turned for display (0, 90, 180 or 270), as ffmpeg's autorotate does.
    public var rotation: Int

    public init(container: String, codec: String, width: Int, height: Int, fps: Double, durationSeconds: Double, rotation: Int) {
        self.container = container
        self.codec = codec
        self.width = width
        self.height = height
        self.fps = fps
        self.durationSeconds = durationSeconds
        self.rotation = rotation
    }

    enum CodingKeys: String, CodingKey {
        case container, codec, width, height, fps, rotation
        case durationSeconds = "duration_s"
    }
}
