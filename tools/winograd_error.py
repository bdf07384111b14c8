"""The float32 error of Winograd F(m x m, 3 x 3) in space and F(m, 3) along time against direct convolution, for
choosing tile sizes.

Usage: python3 tools/winograd_error.py [TRIALS]   (numpy only; default 200 trials)

Builds A^T, G and B^T exactly (fractions) from the interpolation points by the Toom-Cook construction, checks them
in double precision against direct correlation, then computes one output tile the way the engine does: weights
transformed in double and rounded to float32, input transform, element-wise products summed over 64 input
channels and output transform in float32. Inputs are post-ReLU (half-normal), weights N(0, 1 / (9 * 64)).
Prints, over TRIALS tiles, the largest and the root-mean-square of each tile's max |error|, relative to the mean
largest |output|. The temporal tiles are one-dimensional and sum over 144 channels (layer1's temporal convolutions),
weights N(0, 1 / (3 * 144)).
"""
import sys
from fractions import Fraction as F

import numpy as np


def matrices(points, m, r=3):
    """A^T (m x n), G (n x r), B^T (n x n) for n = m + r - 1: the finite points and infinity."""
    n = m + r - 1
    p = [F(x) for x in points]
    assert len(p) == n - 1
    at = [[p[j] ** i for j in range(n - 1)] + [F(int(i == m - 1))] for i in range(m)]
    g = []
    for j in range(n - 1):
        scale = F(1)
        for k in range(n - 1):
            if k != j:
                scale *= p[j] - p[k]
        g.append([p[j] ** k / scale for k in range(r)])
    g.append([F(int(k == r - 1)) for k in range(r)])

    def coefficients(roots):
        c = [F(1)]
        for a in roots:
            c = [F(0)] + c
            for i in range(len(c) - 1):
                c[i] -= a * c[i + 1]
        return c

    bt = []
    for j in range(n - 1):
        c = coefficients([p[k] for k in range(n - 1) if k != j])
        bt.append(c + [F(0)] * (n - len(c)))
    bt.append(coefficients(p))
    as_float = lambda rows: np.array([[float(x) for x in row] for row in rows])
    return as_float(at), as_float(g), as_float(bt)


def check(at, g, bt, m):
    rng = np.random.default_rng(0)
    d, w = rng.standard_normal(m + 2), rng.standard_normal(3)
    direct = np.array([d[i:i + 3] @ w for i in range(m)])
    assert np.allclose(at @ ((g @ w) * (bt @ d)), direct), "the matrices do not compute the correlation"


def tile_error(points, m, channels=64, trials=200):
    at, g, bt = matrices(points, m)
    check(at, g, bt, m)
    n = m + 2
    rng = np.random.default_rng(1)
    at32, bt32 = at.astype(np.float32), bt.astype(np.float32)
    errors, peaks = [], []
    for _ in range(trials):
        d = np.maximum(rng.standard_normal((channels, n, n)), 0)
        w = rng.standard_normal((channels, 3, 3)) / np.sqrt(9 * channels)
        direct = np.array([[np.sum(d[:, i:i + 3, j:j + 3] * w) for j in range(m)] for i in range(m)])
        u = np.einsum("ij,cjk,lk->cil", g, w, g).astype(np.float32)
        v = np.einsum("ij,cjk,lk->cil", bt32, d.astype(np.float32), bt32).astype(np.float32)
        y = at32 @ np.sum(u * v, axis=0, dtype=np.float32) @ at32.T
        errors.append(np.abs(y - direct).max())
        peaks.append(np.abs(direct).max())
    scale = np.mean(peaks)
    return np.max(errors) / scale, np.sqrt(np.mean(np.square(errors))) / scale


def time_error(points, m, channels=144, trials=200):
    at, g, bt = matrices(points, m)
    check(at, g, bt, m)
    rng = np.random.default_rng(1)
    at32, bt32 = at.astype(np.float32), bt.astype(np.float32)
    errors, peaks = [], []
    for _ in range(trials):
        d = np.maximum(rng.standard_normal((channels, m + 2)), 0)
        w = rng.standard_normal((channels, 3)) / np.sqrt(3 * channels)
        direct = np.array([np.sum(d[:, i:i + 3] * w) for i in range(m)])
        u = (w @ g.T).astype(np.float32)
        v = (d.astype(np.float32) @ bt32.T).astype(np.float32)
        y = at32 @ np.sum(u * v, axis=0, dtype=np.float32)
        errors.append(np.abs(y - direct).max())
        peaks.append(np.abs(direct).max())
    scale = np.mean(peaks)
    return np.max(errors) / scale, np.sqrt(np.mean(np.square(errors))) / scale


if __name__ == "__main__":
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    half = F(1, 2)
    for m, points in [
        (2, [0, 1, -1]),
        (4, [0, 1, -1, 2, -2]),
        (6, [0, 1, -1, 2, -2, half, -half]),
        (8, [0, 1, -1, 2, -2, half, -half, 4, -4]),
        (8, [0, 1, -1, 2, -2, half, -half, F(1, 4), F(-1, 4)]),
        (8, [0, 1, -1, 2, -2, half, -half, 3, -3]),
        (8, [0, 1, -1, 2, -2, half, -half, F(3, 2), F(-3, 2)]),
    ]:
        largest, rms = tile_error(points, m, trials=trials)
        print(f"F({m}x{m}, 3x3), points {', '.join(map(str, points))}, inf: max {largest:.2e}, rms {rms:.2e}")
    for m, points in [
        (2, [0, 1, -1]),
        (4, [0, 1, -1, 2, -2]),
        (6, [0, 1, -1, 2, -2, half, -half]),
        (8, [0, 1, -1, 2, -2, half, -half, F(3, 2), F(-3, 2)]),
    ]:
        largest, rms = time_error(points, m, trials=trials)
        print(f"F({m}, 3) along time, points {', '.join(map(str, points))}, inf: max {largest:.2e}, rms {rms:.2e}")
