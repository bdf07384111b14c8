"""Compares `r2plus1d preprocess` with PyAV + torchvision's preset on any video, for 1 and 3 clips.

Usage: python tools/compare_preprocess.py R2PLUS1D_EXECUTABLE VIDEO...   (with the venv from scripts/make-reference-venv.sh)

The reference is tools/make_geometry_fixtures.py's (PyAV's frames, the README's sampling rule in exact arithmetic,
the preset), with the clip starts spread over [0, D - 16/15] as for N clips. Prints, per video and clip count,
the largest difference in uint8 levels and how many sampled frames are more than one level off.
"""
import json
import struct
import subprocess
import sys
import tempfile
from fractions import Fraction

import numpy as np

from make_geometry_fixtures import decoded_frames, sampled_clip

MEAN = np.array([0.43216, 0.394666, 0.37645], dtype=np.float32).reshape(3, 1, 1, 1)
STD = np.array([0.22803, 0.22145, 0.216989], dtype=np.float32).reshape(3, 1, 1, 1)


def load_clips(path):
    raw = open(path, "rb").read()
    size = struct.unpack("<Q", raw[:8])[0]
    entry = json.loads(raw[8:8 + size])["clips"]
    start, end = entry["data_offsets"]
    return np.frombuffer(raw[8 + size + start:8 + size + end], dtype=np.float32).reshape(entry["shape"])


def reference(path, clips):
    duration, frames = decoded_frames(path)
    span = max(Fraction(0), duration - Fraction(16, 15))
    starts = [span / 2] if clips == 1 else [span * i / (clips - 1) for i in range(clips)]
    crops = [sampled_clip(frames, s)[2] for s in starts]
    return np.stack([(clip.permute(1, 0, 2, 3).float().numpy() / 255 - MEAN) / STD for clip in crops])


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
