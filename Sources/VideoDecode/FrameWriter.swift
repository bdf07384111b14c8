import CFFmpeg
import Dispatch
import Foundation

/// Turns the frames a decode picks into the network's planes: RGB by swscale, then torchvision's preset, written to
/// every slot the frame answers. With `concurrent`, this runs on a thread of its own while decoding goes on (a few
/// frames held at a time); otherwise on the caller's.
final class FrameWriter: @unchecked Sendable {
    private let converter: RGBConverter
    private var transform: TorchvisionTransform?
    private let limits: DecodeLimits
    private let rotation: Int
    /// Written only on the writing thread (or the caller's), and handed out after `pending` is empty.
    private var output: [Float] = []
    private let queue: DispatchQueue?
    private let pending = DispatchGroup()
    /// Frames handed over and not yet written: each holds a decoded picture.
    private let room = DispatchSemaphore(value: 4)
    /// The first failure on the writing thread; read after `pending` is empty.
    private var failure: Error?

    static let planeSize = TorchvisionTransform.crop * TorchvisionTransform.crop

    init(limits: DecodeLimits, rotation: Int, concurrent: Bool) throws {
        converter = try RGBConverter()
        self.limits = limits
        self.rotation = rotation
        queue = concurrent ? DispatchQueue(label: "r2plus1d.frame-writer") : nil
    }

    deinit { pending.wait() }

    /// Zeroed room for `clips` clips; what an earlier call wrote is dropped.
    func begin(clips: Int) {
        pending.wait()
        output = [Float](repeating: 0, count: clips * ClipSpec.kinetics.elementCount)
        failure = nil
    }

    /// Writes `frame`'s planes to `slots` (clip * 16 + frame index), now or on the writing thread.
    func write(_ frame: UnsafeMutablePointer<AVFrame>, slots: [Int]) throws {
        guard let queue else { return try writeNow(frame, slots: slots) }
        guard let copy = av_frame_clone(frame) else { throw DecodeError.internalFailure(detail: "cannot reference a frame") }
        let held = HeldFrame(pointer: copy)
        room.wait()
        queue.async(group: pending) { [self] in
            defer {
                var pointer: UnsafeMutablePointer<AVFrame>? = held.pointer
                av_frame_free(&pointer)
                room.signal()
            }
            guard failure == nil else { return }
            do { try writeNow(held.pointer, slots: slots) } catch { failure = error }
        }
    }

    /// Waits for every frame handed over.
    /// - Returns: the values written since `begin`, handed over without a copy.
    /// - Throws: what writing a frame threw.
    func finish() throws -> [Float] {
        pending.wait()
        if let failure { throw failure }
        defer { output = [] }
        return output
    }

    private func writeNow(_ frame: UnsafeMutablePointer<AVFrame>, slots: [Int]) throws {
        let rgb = try converter.convert(frame, limits: limits)
        let width = Int(frame.pointee.width), height = Int(frame.pointee.height)
        let (displayWidth, displayHeight) = rotation % 180 == 0 ? (width, height) : (height, width)
        if transform?.displayWidth != displayWidth || transform?.displayHeight != displayHeight {
            transform = TorchvisionTransform(displayWidth: displayWidth, displayHeight: displayHeight)
        }
        let frames = ClipSampling.framesPerClip, plane = Self.planeSize, transform = transform!, linesize = converter.linesize
        output.withUnsafeMutableBufferPointer { output in
            func start(_ slot: Int) -> UnsafeMutablePointer<Float> {
                output.baseAddress! + (slot / frames) * 3 * frames * plane + (slot % frames) * plane
            }
            let base = start(slots[0])
            transform.apply(rgb: rgb, linesize: linesize, rotation: rotation, output: base, planeStride: frames * plane)
            for slot in slots.dropFirst() {
                for c in 0..<3 { (start(slot) + c * frames * plane).update(from: base + c * frames * plane, count: plane) }
            }
        }
    }
}

/// A frame reference on its way to the writing thread, which alone uses and frees it.
private struct HeldFrame: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<AVFrame>
}
