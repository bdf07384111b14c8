/// Kernel, stride and padding of a 3-D convolution, each as (T, H, W).
public struct Conv3dGeometry: Sendable, Equatable, CustomStringConvertible {
    public var kernel: (t: Int, h: Int, w: Int)
    public var stride: (t: Int, h: Int, w: Int)
    public var padding: (t: Int, h: Int, w: Int)

    public init(kernel: (Int, Int, Int), stride: (Int, Int, Int) = (1, 1, 1), padding: (Int, Int, Int) = (0, 0, 0)) {
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    /// Output extent along one axis, as PyTorch computes it.
    @inline(__always)
    static func outputExtent(_ input: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        (input + 2 * padding - kernel) / stride + 1
    }

    /// (T, H, W) of the output for an input of (T, H, W).
    public func outputSize(t: Int, h: Int, w: Int) -> (t: Int, h: Int, w: Int) {
        (Self.outputExtent(t, kernel: kernel.t, stride: stride.t, padding: padding.t),
         Self.outputExtent(h, kernel: kernel.h, stride: stride.h, padding: padding.h),
         Self.outputExtent(w, kernel: kernel.w, stride: stride.w, padding: padding.w))
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.kernel == b.kernel && a.stride == b.stride && a.padding == b.padding
    }

    public var description: String {
        "k\(kernel) s\(stride) p\(padding)"
    }
}
