import CBLAS

extension FoldedConv3d {
    /// What happens to each output value after bias: nothing, ReLU, or adding a residual then ReLU.
    enum Epilogue {
        case identity
        case relu
        /// The residual is laid out as the convolution's output, (M, T', H', W').
        case addRelu(residual: UnsafePointer<Float>)
    }
}

extension FoldedConv3d.Epilogue {
    /// target[i] = source[i] + bias, then the epilogue (source may be target); the row sits at `residualOffset`
    /// in the residual. Inlined so that at an in-place call the compiler sees source == target and vectorises; an
    /// out-of-line copy finds them overlapping at run time and falls back to scalar loops.
    @inline(__always)
    func apply(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int, bias: Float,
               residualOffset: Int) {
        switch self {
        case .identity:
            for i in 0..<count { target[i] = source[i] + bias }
        case .relu:
            for i in 0..<count { target[i] = max(source[i] + bias, 0) }
        case .addRelu(let residual):
            let r = residual + residualOffset
            for i in 0..<count { target[i] = max(source[i] + bias + r[i], 0) }
        }
    }

    /// `apply` for an output row that a Winograd output transform left as `k` planes (`planeStride` apart) of one
    /// value per block: target[k * x + c] = plane_c[x], for k = 2 or 4 and `width` outputs.
    ///
    /// Interleaving and the epilogue in one pass, four outputs per vector store, because interleaving with scalar
    /// stores first makes the epilogue's vector loads wait on store forwarding. The interleave is a transpose of
    /// whole vectors (four from each plane for k = 4, two for k = 2) rather than a gather of single floats.
    /// `stream`: whole quads go out as non-temporal stores where `target` is 16-byte aligned (the caller then fences).
    @inline(__always)
    func apply(planes y: UnsafePointer<Float>, _ k: Int, planeStride: Int, into target: UnsafeMutablePointer<Float>,
               width: Int, bias: Float, residualOffset: Int, stream: Bool) {
        let quads = width / 4
        let b = SIMD4<Float>(repeating: bias)
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
            UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
        }
        // Output quad q (outputs 4q...4q + 3) through `op`, for every whole quad.
        @inline(__always) func run(_ op: (SIMD4<Float>, Int) -> SIMD4<Float>) {
            let streaming = stream && Int(bitPattern: target) % 16 == 0
            @inline(__always) func store(_ v: SIMD4<Float>, _ q: Int) {
                if streaming {
                    cblas_stream_store(target + 4 * q, op(v, q))
                } else {
                    UnsafeMutableRawPointer(target + 4 * q).storeBytes(of: op(v, q), as: SIMD4<Float>.self)
                }
            }
            var q = 0
            if k == 4 {
                while q + 4 <= quads {
                    let p0 = load(y + q), p1 = load(y + planeStride + q)
                    let p2 = load(y + 2 * planeStride + q), p3 = load(y + 3 * planeStride + q)
                    store(SIMD4(p0[0], p1[0], p2[0], p3[0]), q)
                    store(SIMD4(p0[1], p1[1], p2[1], p3[1]), q + 1)
                    store(SIMD4(p0[2], p1[2], p2[2], p3[2]), q + 2)
                    store(SIMD4(p0[3], p1[3], p2[3], p3[3]), q + 3)
                    q += 4
                }
                for q in q..<quads { store(SIMD4(y[q], y[planeStride + q], y[2 * planeStride + q], y[3 * planeStride + q]), q) }
            } else {
                while q + 2 <= quads {
                    let even = load(y + 2 * q), odd = load(y + planeStride + 2 * q)
                    store(SIMD4(even[0], odd[0], even[1], odd[1]), q)
                    store(SIMD4(even[2], odd[2], even[3], odd[3]), q + 1)
                    q += 2
                }
                for q in q..<quads { store(SIMD4(y[2 * q], y[planeStride + 2 * q], y[2 * q + 1], y[planeStride + 2 * q + 1]), q) }
            }
        }
        switch self {
        case .identity:
            run { v, _ in v + b }
        case .relu:
            run { v, _ in
                let sum = v + b
                return sum.replacing(with: 0, where: sum .< 0)
            }
        case .addRelu(let residual):
            let r = UnsafeRawPointer(residual + residualOffset)
            run { v, q in
                let sum = v + b + r.loadUnaligned(fromByteOffset: 16 * q, as: SIMD4<Float>.self)
                return sum.replacing(with: 0, where: sum .< 0)
            }
        }
        for i in (4 * quads)..<width {
            let value = y[(i % k) * planeStride + i / k] + bias
            switch self {
            case .identity: target[i] = value
            case .relu: target[i] = max(value, 0)
            case .addRelu(let residual): target[i] = max(value + residual[residualOffset + i], 0)
            }
        }
    }
}
