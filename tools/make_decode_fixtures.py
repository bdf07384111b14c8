"""Makes the decode stage's parity fixture with PyAV and torchvision (run once; the outputs are committed).

Usage: python tools/make_decode_fixtures.py   (with the venv from scripts/make-reference-venv.sh)

Decodes Tests/VideoDecodeTests/Fixtures/bikes.mp4 (a real H.264 clip, from ../shared/clips) with PyAV, samples
2 clips exactly as the README's sampling rule says (16 grid times t_k = s + k/15; starts spread over
[0, max(0, D - 16/15)]; the last frame with time <= t_k), and applies torchvision's VideoClassification preset
up to the centre crop (resize 128x171 bilinear without antialiasing on uint8 frames, crop 112).

Writes bikes_expected.u8 (uint8, [2, 3, 16, 112, 112]) and bikes_expected.json (shape, frame times, duration).
The Swift test normalises the uint8 values with the preset's mean and std and compares.
"""
import json
import os

import av
import torch
import torchvision.transforms.functional as F
from torchvision.models.video import R2Plus1D_18_Weights

HERE = os.path.join(os.path.dirname(__file__), "..", "Tests", "VideoDecodeTests", "Fixtures")
CLIPS = 2


def main():
    with av.open(os.path.join(HERE, "bikes.mp4")) as container:
        stream = container.streams.video[0]
        start = stream.start_time or 0
        duration = float(stream.duration * stream.time_base)
        frames = [(float((f.pts - start) * stream.time_base), f.to_ndarray(format="rgb24")) for f in container.decode(stream)]
    span = max(0.0, duration - 16 / 15)
    starts = [span / 2] if CLIPS == 1 else [i * span / (CLIPS - 1) for i in range(CLIPS)]
    out, times = [], []
    for s in starts:
        chosen = []
        for k in range(16):
            t = s + k / 15
            index = max([i for i, (ft, _) in enumerate(frames) if ft <= t], default=0)
            chosen.append(index)
        times.append([frames[i][0] for i in chosen])
        vid = torch.from_numpy(__import__("numpy").stack([frames[i][1] for i in chosen])).permute(0, 3, 1, 2)
        vid = F.resize(vid, [128, 171], interpolation=F.InterpolationMode.BILINEAR, antialias=False)
        vid = F.center_crop(vid, [112, 112])
        assert vid.dtype == torch.uint8
        # The full preset equals this uint8 crop, scaled and normalised: check that here so the test may rely on it.
        preset = R2Plus1D_18_Weights.KINETICS400_V1.transforms()
        full = preset(torch.from_numpy(__import__("numpy").stack([frames[i][1] for i in chosen])).permute(0, 3, 1, 2))
        mean = torch.tensor(preset.mean).view(3, 1, 1, 1)
        std = torch.tensor(preset.std).view(3, 1, 1, 1)
        mine = (vid.permute(1, 0, 2, 3).float() / 255 - mean) / std
        assert (full - mine).abs().max() < 1e-5, (full - mine).abs().max()
        out.append(vid.permute(1, 0, 2, 3).contiguous())  # (C, T, H, W)
    tensor = torch.stack(out)
    tensor.numpy().tofile(os.path.join(HERE, "bikes_expected.u8"))
    with open(os.path.join(HERE, "bikes_expected.json"), "w") as f:
        json.dump({"shape": list(tensor.shape), "duration_s": duration, "frame_times": times}, f, indent=1)
    print("duration", duration, "starts", starts)


if __name__ == "__main__":
    main()
