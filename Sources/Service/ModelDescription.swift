import R2Plus1D
import VideoDecode

/// The answer of `GET /v1/model`: the network, what it takes, its weights, batching and limits.
struct ModelDescription: Encodable {
    struct Input: Encodable {
        var shape: [String]
        var frames: Int
        var frame_rate: Double
        var resize: [Int]
        var crop: Int
        var mean: [Float]
        var std: [Float]

        init(_ spec: ClipSpec) {
            shape = ["N"] + spec.shape.map(String.init)
            frames = spec.frames
            frame_rate = spec.frameRate
            resize = [spec.resizeHeight, spec.resizeWidth]
            crop = spec.crop
            mean = spec.mean
            std = spec.std
        }
    }

    struct Weights: Encodable {
        var source: String
        var sha256: String?
        var demo: Bool

        enum CodingKeys: CodingKey { case source, sha256, demo }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(source, forKey: .source)
            try c.encode(sha256, forKey: .sha256)  // null, not absent, for demo weights
            try c.encode(demo, forKey: .demo)
        }
    }

    struct Batching: Encodable {
        var max_batch: Int
        var max_delay_ms: Double
        var workers: Int
        var threads: Int
        var queue_size: Int
    }

    var name: String
    var architecture = "R(2+1)D-18: torchvision VideoResNet(BasicBlock, [Conv2Plus1D] * 4, [2, 2, 2, 2], R2Plus1dStem)"
    var input = Input(.kinetics)
    var classes: Int
    var weights: Weights
    var batching: Batching
    var max_clips: Int
    /// The largest upload accepted (`--max-upload-mb`); larger ones get 413.
    var max_upload_bytes: Int
    /// Request bodies held at once, all connections together (`--max-buffered-upload-mb`); beyond, 503.
    var max_buffered_upload_bytes: Int
    var state: String
    var blas_kernels = BLASKernels.selection.kernels.name
    var blas_kernels_chosen = BLASKernels.selection.how

    init(model: ModelInfo, classes: Int, configuration c: ServiceConfiguration, state: String) {
        name = model.name
        self.classes = classes
        weights = Weights(source: model.weights, sha256: model.sha256, demo: model.demo)
        batching = Batching(max_batch: c.batching.maxBatch, max_delay_ms: c.batching.maxDelaySeconds * 1000,
                            workers: c.batching.workers, threads: c.blasThreads, queue_size: c.batching.queueCapacity)
        max_clips = c.maxClips
        max_upload_bytes = c.http.limits.maxBodyBytes
        max_buffered_upload_bytes = c.http.bodyBudgetBytes
        self.state = state
    }
}
