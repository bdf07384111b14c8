"""Makes the geometry parity fixtures with ffmpeg, PyAV and torchvision (run once; the outputs are committed).

Usage: python tools/make_geometry_fixtures.py   (with the venv from scripts/make-reference-venv.sh)

Encodes a few cases of Tests/VideoDecodeTests/Fixtures/geometry/matrix.txt with the ffmpeg CLI (the same
arguments the matrix test uses) into Fixtures/geometry/, decodes each with PyAV, samples 1 clip as the README's
sampling rule says in exact arithmetic (the centre clip: start max(0, D - 16/15) / 2, grid times t_k = start + k/15,
the last frame with time <= t_k; torchvision's own index resampling picks the same frames) and applies torchvision's VideoClassification preset up to the centre crop (resize 128x171
bilinear without antialiasing on uint8 frames, crop 112), as tools/make_decode_fixtures.py does for bikes.mp4.

Writes NAME.u8 (uint8, [1, 3, 16, 112, 112]) for each clip and parity.json (per clip: shape, frame times, duration;
and the FFmpeg versions involved). GeometryParityTests.swift normalises the uint8 values with the preset's mean and
std and compares. Needs ffmpeg on PATH (Debian's, the one the service links) to make the clips.
"""
import json
import os
import subprocess
from fractions import Fraction

import av
import numpy as np
import torch
import torchvision.transforms.functional as F
from torchvision.models.video import R2Plus1D_18_Weights

HERE = os.path.join(os.path.dirname(__file__), "..", "Tests", "VideoDecodeTests", "Fixtures", "geometry")
# The swscale overrun's size and codecs, an extreme aspect ratio, full-range JPEG, a second decoder, an odd 4:4:4 size,
# and 10-bit 4:2:2 with H.264's left-sited chroma (docs/DECODE-PARITY.md).
CASES = ["h264-426x240.mp4", "h264-1000x60.mp4", "mjpeg-yuvj420p-426x240.avi", "vp9-426x240.webm", "h264-33x31.mp4",
         "h264-yuv422p10-426x240.mp4"]


def matrix():
    cases = {}
    for line in open(os.path.join(HERE, "matrix.txt")):
        fields = line.split()
        if fields and not fields[0].startswith("#"):
            cases[fields[0]] = fields[2:]
    return cases


def decoded_frames(path):
    """The stream's duration and every frame as (time, RGB24 array), times from the first timestamp.

    Times are exact fractions: in floating point a grid time that equals a frame time (every third one at 10 fps,
    every one at 15 or 30) lands an ulp either side of it, and the earlier frame is picked half the time."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        start = stream.start_time or 0
        if stream.duration and stream.duration > 0:
            duration = stream.duration * stream.time_base
        else:
            duration = Fraction(container.duration, av.time_base)
        frames = [((f.pts - start) * stream.time_base, f.to_ndarray(format="rgb24")) for f in container.decode(stream)]
    return duration, frames


def sampled_clip(frames, s):
    """The clip whose grid starts at s: chosen frame indices and the uint8 crop, (T, C, 112, 112)."""
    chosen = [max([i for i, (t, _) in enumerate(frames) if t <= s + Fraction(k, 15)], default=0) for k in range(16)]
    video = torch.from_numpy(np.stack([frames[i][1] for i in chosen])).permute(0, 3, 1, 2)
    clip = F.center_crop(F.resize(video, [128, 171], interpolation=F.InterpolationMode.BILINEAR, antialias=False), [112, 112])
    assert clip.dtype == torch.uint8
    return chosen, video, clip


def expected(path):
    duration, frames = decoded_frames(path)
    s = max(Fraction(0), duration - Fraction(16, 15)) / 2
    chosen, video, clip = sampled_clip(frames, s)
    # The full preset equals this uint8 crop, scaled and normalised: check that here so the test may rely on it.
    preset = R2Plus1D_18_Weights.KINETICS400_V1.transforms()
    mean = torch.tensor(preset.mean).view(3, 1, 1, 1)
    std = torch.tensor(preset.std).view(3, 1, 1, 1)
    assert (preset(video) - ((clip.permute(1, 0, 2, 3).float() / 255 - mean) / std)).abs().max() < 1e-5
    return clip.permute(1, 0, 2, 3).contiguous().unsqueeze(0), float(duration), [float(frames[i][0]) for i in chosen]  # (1, C, T, H, W)


def main():
    arguments = matrix()
    entries = []
    for name in CASES:
        path = os.path.join(HERE, name)
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-nostdin", *arguments[name], path], check=True)
        tensor, duration, times = expected(path)
        tensor.numpy().tofile(os.path.join(HERE, name + ".u8"))
        entries.append({"name": name, "shape": list(tensor.shape), "duration_s": duration, "frame_times": [times]})
        print(name, "duration", duration, "frames", times[0], "...", times[-1])
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    with open(os.path.join(HERE, "parity.json"), "w") as f:
        json.dump({"made_by": "tools/make_geometry_fixtures.py", "clips_encoded_with": ffmpeg,
                   "pyav": av.__version__, "pyav_libraries": {k: ".".join(map(str, v)) for k, v in av.library_versions.items()},
                   "torch": torch.__version__, "torchvision": __import__("torchvision").__version__,
                   "cases": entries}, f, indent=1)


if __name__ == "__main__":
    main()
