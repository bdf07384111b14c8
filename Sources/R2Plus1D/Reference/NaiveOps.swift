/// Plain loops that say what each operation means, with nothing folded, fused or tiled.
/// They are slow on purpose: the optimised kernels and the model are tested against them.
public enum NaiveOps {
    /// input (N, C, T, H, W), weight (M, C, kt, kh, kw), bias (M) or nil -> output (N, M, T', H', W')
    public static func conv3d(_ input: Tensor, weight: Tensor, bias: [Float]? = nil, geometry g: Conv3dGeometry) -> Tensor {
        let (n, c, t, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3], input.shape[4])
        let m = weight.shape[0]
        precondition(weight.shape == [m, c, g.kernel.t, g.kernel.h, g.kernel.w])
        let o = g.outputSize(t: t, h: h, w: w)
        var out = Tensor(zeros: [n, m, o.t, o.h, o.w])
        for b in 0..<n {
            for oc in 0..<m {
                for ot in 0..<o.t {
                    for oh in 0..<o.h {
                        for ow in 0..<o.w {
                            var sum: Double = Double(bias?[oc] ?? 0)
                            for ic in 0..<c {
                                for kt in 0..<g.kernel.t {
                                    let it = ot * g.stride.t - g.padding.t + kt
                                    if it < 0 || it >= t { continue }
                                    for kh in 0..<g.kernel.h {
                                        let ih = oh * g.stride.h - g.padding.h + kh
                                        if ih < 0 || ih >= h { continue }
                                        for kw in 0..<g.kernel.w {
                                            let iw = ow * g.stride.w - g.padding.w + kw
                                            if iw < 0 || iw >= w { continue }
                                            let x = input.data[(((b * c + ic) * t + it) * h + ih) * w + iw]
                                            let k = weight.data[(((oc * c + ic) * g.kernel.t + kt) * g.kernel.h + kh) * g.kernel.w + kw]
                                            sum += Double(x) * Double(k)
                                        }
                                    }
                                }
                            }
                            out.data[(((b * m + oc) * o.t + ot) * o.h + oh) * o.w + ow] = Float(sum)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Inference BatchNorm over dimension 1 of (N, C, ...): (x - mean) / sqrt(var + eps) * gamma + beta.
    public static func batchNorm(_ x: Tensor, gamma: [Float], beta: [Float], mean: [Float], variance: [Float], eps: Float = 1e-5) -> Tensor {
        let c = x.shape[1]
        let inner = x.shape.dropFirst(2).reduce(1, *)
        var out = x
        for i in 0..<x.count {
            let ch = (i / inner) % c
            out.data[i] = (x.data[i] - mean[ch]) / (variance[ch] + eps).squareRoot() * gamma[ch] + beta[ch]
        }
        return out
    }

    public static func relu(_ x: Tensor) -> Tensor {
        Tensor(shape: x.shape, data: x.data.map { max($0, 0) })
    }

    public static func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape)
        return Tensor(shape: a.shape, data: zip(a.data, b.data).map { $0 + $1 })
    }

    /// AdaptiveAvgPool3d(1) then flatten: (N, C, T, H, W) -> (N, C)
    public static func globalAveragePool(_ x: Tensor) -> Tensor {
        let (n, c) = (x.shape[0], x.shape[1])
        let inner = x.shape.dropFirst(2).reduce(1, *)
        var out = Tensor(zeros: [n, c])
        for i in 0..<(n * c) {
            var sum: Double = 0
            for j in 0..<inner { sum += Double(x.data[i * inner + j]) }
            out.data[i] = Float(sum / Double(inner))
        }
        return out
    }

    /// x (N, K), weight (M, K), bias (M) -> (N, M)
    public static func linear(_ x: Tensor, weight: Tensor, bias: [Float]) -> Tensor {
        let (n, k, m) = (x.shape[0], x.shape[1], weight.shape[0])
        var out = Tensor(zeros: [n, m])
        for b in 0..<n {
            for o in 0..<m {
                var sum = Double(bias[o])
                for i in 0..<k { sum += Double(x.data[b * k + i]) * Double(weight.data[o * k + i]) }
                out.data[b * m + o] = Float(sum)
            }
        }
        return out
    }
}
