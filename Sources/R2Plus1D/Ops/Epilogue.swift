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

    /// How a Winograd output transform leaves an output row: planes (`planeStride` apart) of one value per block.
    enum BlockPlanes {
        /// F(2,3): Y_0, Y_1, the block's two outputs; target[2x + c] = Y_c[x].
        case outputs2
        /// F(4,3): T_0...T_5, row r of A^T M; the output transform's last step, Y = T A, is left to the
        /// epilogue, so the four outputs per block are never stored and read back.
        case transformed4
    }

    /// `apply` for an output row of `width` outputs that a Winograd output transform left as `planes`.
    ///
    /// Interleaving and the epilogue in one pass, four outputs per vector store, because interleaving with scalar
    /// stores first makes the epilogue's vector loads wait on store forwarding. The interleave is a transpose of
    /// whole vectors (four blocks from each plane for F(4,3), two for F(2,3)) rather than a gather of single floats.
    @inline(__always)
    func apply(_ planes: BlockPlanes, _ y: UnsafePointer<Float>, planeStride: Int, into target: UnsafeMutablePointer<Float>,
               width: Int, bias: Float, residualOffset: Int) {
        let quads = width / 4
        let b = SIMD4<Float>(repeating: bias)
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
            UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
        }
        /// Y_0...Y_3 = A^T (T_0...T_5), `plane(j)` holding T_j of one block per lane.
        @inline(__always) func transform(_ plane: (Int) -> SIMD4<Float>) -> (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>) {
            let (t1, t2, t3, t4) = (plane(1), plane(2), plane(3), plane(4))
            let sum12 = t1 + t2, diff12 = t1 - t2, sum34 = t3 + t4, diff34 = t3 - t4
            return (plane(0) + sum12 + sum34, diff12 + 2 * diff34, sum12 + 4 * sum34, diff12 + 8 * diff34 + plane(5))
        }
        /// Block x's four outputs (the lanes all hold block x).
        @inline(__always) func outputs(ofBlock x: Int) -> SIMD4<Float> {
            let (y0, y1, y2, y3) = transform { SIMD4(repeating: y[$0 * planeStride + x]) }
            return SIMD4(y0[0], y1[0], y2[0], y3[0])
        }
        // Output quad q (outputs 4q...4q + 3) through `op`, for every whole quad.
        @inline(__always) func run(_ op: (SIMD4<Float>, Int) -> SIMD4<Float>) {
            @inline(__always) func store(_ v: SIMD4<Float>, _ q: Int) {
                UnsafeMutableRawPointer(target + 4 * q).storeBytes(of: op(v, q), as: SIMD4<Float>.self)
            }
            var q = 0
            switch planes {
            case .transformed4:
                while q + 4 <= quads {
                    let (p0, p1, p2, p3) = transform { load(y + $0 * planeStride + q) }
                    store(SIMD4(p0[0], p1[0], p2[0], p3[0]), q)
                    store(SIMD4(p0[1], p1[1], p2[1], p3[1]), q + 1)
                    store(SIMD4(p0[2], p1[2], p2[2], p3[2]), q + 2)
                    store(SIMD4(p0[3], p1[3], p2[3], p3[3]), q + 3)
                    q += 4
                }
                for q in q..<quads { store(outputs(ofBlock: q), q) }
            case .outputs2:
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
        // The last block's first width % 4 outputs.
        let last = planes == .transformed4 && 4 * quads < width ? outputs(ofBlock: quads) : .zero
        for i in (4 * quads)..<width {
            let value = (planes == .outputs2 ? y[(i % 2) * planeStride + i / 2] : last[i % 4]) + bias
            switch self {
            case .identity: target[i] = value
            case .relu: target[i] = max(value, 0)
            case .addRelu(let residual): target[i] = max(value + residual[residualOffset + i], 0)
            }
        }
    }
}
