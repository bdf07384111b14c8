"""Compares `r2plus1d preprocess` with PyAV + torchvision's preset on any video, for 1 and 3 clips.

Usage: python tools/compare_preprocess.py R2PLUS1D_EXECUTABLE VIDEO...   (with the venv from scripts/make-reference-venv.sh)

The reference decodes every frame with PyAV, samples as the README's sampling rule says in exact arithmetic (clip
starts spread over [0, D - 16/15], grid times t_k = start + k/15, the last frame with time <= t_k) and applies the
preset up to normalisation, as tools/make_geometry_fixtures.py does for one clip. Prints, per video and clip count,
the largest difference in uint8 levels and how many sampled frames are more than one level off.
"""
import json
import struct
import subprocess
import sys
import tempfile
from fractions import Fraction

import av
import numpy as np
import torch
import torchvision.transforms.functional as F

MEAN = np.array([0.43216, 0.394666, 0.37645], dtype=np.float32).reshape(3, 1, 1, 1)
STD = np.array([0.22803, 0.22145, 0.216989], dtype=np.float32).reshape(3, 1, 1, 1)


def load_clips(path):
    raw = open(path, "rb").read()
    size = struct.unpack("<Q", raw[:8])[0]
    entry = json.loads(raw[8:8 + size])["clips"]
    start, end = entry["data_offsets"]
    return np.frombuffer(raw[8 + size + start:8 + size + end], dtype=np.float32).reshape(entry["shape"])


def reference(path, clips):
    with av.open(path) as container:
        stream = container.streams.video[0]
        first = stream.start_time or 0
        if stream.duration and stream.duration > 0:
            duration = stream.duration * stream.time_base
        else:
            duration = Fraction(container.duration, av.time_base)
        frames = [((f.pts - first) * stream.time_base, f.to_ndarray(format="rgb24")) for f in container.decode(stream)]
    span = max(Fraction(0), duration - Fraction(16, 15))
    starts = [span / 2] if clips == 1 else [span * i / (clips - 1) for i in range(clips)]
    out = []
    for s in starts:
        chosen = [max([i for i, (t, _) in enumerate(frames) if t <= s + Fraction(k, 15)], default=0) for k in range(16)]
        video = torch.from_numpy(np.stack([frames[i][1] for i in chosen])).permute(0, 3, 1, 2)
        clip = F.center_crop(F.resize(video, [128, 171], interpolation=F.InterpolationMode.BILINEAR, antialias=False), [112, 112])
        out.append((clip.permute(1, 0, 2, 3).float().numpy() / 255 - MEAN) / STD)
    return np.stack(out)


def main():
    executable, videos = sys.argv[1], sys.argv[2:]
    with tempfile.TemporaryDirectory() as work:
        output = f"{work}/clips.safetensors"
        for video in videos:
            for clips in (1, 3):
                subprocess.run([executable, "preprocess", video, "-o", output, "--clips", str(clips)], check=True,
                               capture_output=True)
                levels = np.abs(load_clips(output) - reference(video, clips)) * 255 * STD.reshape(1, 3, 1, 1, 1)
                per_frame = levels.max(axis=(1, 3, 4))
                print(f"{video}: {clips} clip(s), max {levels.max():.2f} levels (mean {levels.mean():.3f}), "
                      f"{int((per_frame > 1.001).sum())} of {per_frame.size} frames more than one level off", flush=True)


if __name__ == "__main__":
    main()
