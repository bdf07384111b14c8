/// What the network takes, in one place: torchvision's video classification preset for R(2+1)D on Kinetics.
/// 16 consecutive frames on a 15 fps grid, each resized to 128x171, centre-cropped to 112x112, scaled to [0, 1]
/// and normalised with Kinetics' mean and std, in (3, 16, 112, 112) order.
public struct ClipSpec: Sendable, Equatable {
    public var frames: Int
    /// The sampling grid's rate in frames per second.
    public var frameRate: Double
    public var resizeHeight: Int
    public var resizeWidth: Int
    public var crop: Int
    public var mean: [Float]
    public var std: [Float]

    public static let kinetics = ClipSpec(frames: 16, frameRate: 15, resizeHeight: 128, resizeWidth: 171, crop: 112,
                                          mean: [0.43216, 0.394666, 0.37645], std: [0.22803, 0.22145, 0.216989])

    /// One clip's tensor shape: channels, frames, height, width.
    public var shape: [Int] { [3, frames, crop, crop] }
    /// Floats in one clip.
    public var elementCount: Int { shape.reduce(1, *) }
    /// The time one clip covers.
    public var seconds: Double { Double(frames) / frameRate }
}
