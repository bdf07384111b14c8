"""Makes the engine's test fixtures with PyTorch and torchvision (run once; the outputs are committed).

Usage: python tools/make_fixtures.py [--features]   (with the venv from scripts/make-reference-venv.sh)
       --features writes only tiny_features.safetensors, from the committed weights and clips

Writes to Tests/R2Plus1DTests/Fixtures/:
  tiny_r2plus1d.pth              narrow R(2+1)D-18 state dict, torch.save zip format
  tiny_r2plus1d_legacy.pth       the same, legacy (non-zip) format
  tiny_r2plus1d.safetensors      the same, safetensors
  tiny_io.safetensors            'clips' [2,3,8,32,32] and torchvision's 'logits' [2,10]
  tiny_features.safetensors      'features' [2,20]: model.avgpool's output flattened, for the same clips
  dtypes.pth / dtypes_legacy.pth half, bfloat16, strided and offset tensors with their float32 values
  dtypes.safetensors             F16 and BF16 tensors with their float32 values

The network is made of torchvision's own R2Plus1dStem layout, Conv2Plus1D and BasicBlock, with the topology of
r2plus1d_18 (stem, 4 stages of 2 blocks, strides 1/2/2/2) and small widths, so the state dict has exactly the
names and shape pattern of torchvision's r2plus1d_18.
"""
import os
import sys

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file
from torchvision.models.video.resnet import BasicBlock, Conv2Plus1D

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "R2Plus1DTests", "Fixtures")


class TinyR2Plus1D(nn.Module):
    """torchvision's VideoResNet with R2Plus1dStem, minus its hard-coded widths."""

    def __init__(self, stem_mid=6, stem_out=8, planes=(8, 12, 16, 20), classes=10):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv3d(3, stem_mid, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
            nn.BatchNorm3d(stem_mid), nn.ReLU(inplace=True),
            nn.Conv3d(stem_mid, stem_out, kernel_size=(3, 1, 1), stride=(1, 1, 1), padding=(1, 0, 0), bias=False),
            nn.BatchNorm3d(stem_out), nn.ReLU(inplace=True))
        inplanes = stem_out
        for i, (width, stride) in enumerate(zip(planes, (1, 2, 2, 2))):
            blocks = []
            for b in range(2):
                s = stride if b == 0 else 1
                downsample = None
                if s != 1 or inplanes != width:
                    ds_stride = Conv2Plus1D.get_downsample_stride(s)
                    downsample = nn.Sequential(
                        nn.Conv3d(inplanes, width, kernel_size=1, stride=ds_stride, bias=False), nn.BatchNorm3d(width))
                blocks.append(BasicBlock(inplanes, width, Conv2Plus1D, s, downsample))
                inplanes = width
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(inplanes, classes)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def randomise_batch_norm(model, generator):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm3d):
            c = m.num_features
            m.weight.data = torch.rand(c, generator=generator) + 0.5
            m.bias.data = torch.randn(c, generator=generator) * 0.1
            m.running_mean = torch.randn(c, generator=generator) * 0.1
            m.running_var = torch.rand(c, generator=generator) + 0.5


def write_pooled_features():
    """The pooled features fc reads, from the committed weights and clips, so they match tiny_io's logits."""
    model = TinyR2Plus1D().eval()
    model.load_state_dict(load_file(os.path.join(OUT, "tiny_r2plus1d.safetensors")), strict=False)
    clips = load_file(os.path.join(OUT, "tiny_io.safetensors"))["clips"]
    with torch.no_grad():
        x = model.layer4(model.layer3(model.layer2(model.layer1(model.stem(clips)))))
        features = model.avgpool(x).flatten(1)
        logits = model.fc(features)
    expected = load_file(os.path.join(OUT, "tiny_io.safetensors"))["logits"]
    assert torch.allclose(logits, expected, atol=1e-5), "the committed weights do not give the committed logits"
    save_file({"features": features.contiguous()}, os.path.join(OUT, "tiny_features.safetensors"))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(2018)
    g = torch.Generator().manual_seed(7)
    model = TinyR2Plus1D().eval()
    randomise_batch_norm(model, g)
    clips = torch.randn(2, 3, 8, 32, 32, generator=g)
    with torch.no_grad():
        logits = model(clips)
    state = model.state_dict()
    torch.save(state, os.path.join(OUT, "tiny_r2plus1d.pth"))
    torch.save(state, os.path.join(OUT, "tiny_r2plus1d_legacy.pth"), _use_new_zipfile_serialization=False)
    save_file({k: v.contiguous() for k, v in state.items() if not k.endswith("num_batches_tracked")},
              os.path.join(OUT, "tiny_r2plus1d.safetensors"))
    save_file({"clips": clips.contiguous(), "logits": logits.contiguous()}, os.path.join(OUT, "tiny_io.safetensors"))

    values = torch.randn(4, 5, generator=g) * 3
    base = torch.randn(12, generator=g)
    dtypes = {
        "f16": values.half(), "f16.f32": values.half().float(),
        "bf16": values.bfloat16(), "bf16.f32": values.bfloat16().float(),
        "strided": values.t(), "strided.f32": values.t().contiguous(),
        "offset": base[5:9], "offset.f32": base[5:9].clone(),
    }
    torch.save(dtypes, os.path.join(OUT, "dtypes.pth"))
    torch.save(dtypes, os.path.join(OUT, "dtypes_legacy.pth"), _use_new_zipfile_serialization=False)
    save_file({k: v.contiguous() for k, v in dtypes.items() if k.split(".")[0] in ("f16", "bf16")},
              os.path.join(OUT, "dtypes.safetensors"))
    write_pooled_features()
    print("max |logit|", logits.abs().max().item(), "params", sum(p.numel() for p in model.parameters()))


if __name__ == "__main__":
    write_pooled_features() if sys.argv[1:] == ["--features"] else main()
