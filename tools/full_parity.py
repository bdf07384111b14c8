"""Full-size parity: torchvision's own r2plus1d_18 on random weights against `r2plus1d forward`.

Usage (with the venv from scripts/make-reference-venv.sh; scripts/parity-full.sh runs both steps):
  python tools/full_parity.py make DIR BATCH    writes DIR/r2plus1d_18.pth (zip), DIR/r2plus1d_18_legacy.pth,
                                                DIR/r2plus1d_18.safetensors, DIR/input.safetensors ('clips'
                                                [BATCH,3,16,112,112]), DIR/input1.safetensors (its first clip)
                                                and DIR/expected.safetensors (torchvision's 'logits')
  python tools/full_parity.py compare DIR OURS...  each OURS (a `forward` output of N clips) against the first N
                                                rows of DIR/expected.safetensors

The committed fixtures (tools/make_fixtures.py) are a narrow network on 32x32 frames, small enough for the unit
tests; this checks the paths only the full network takes: 112x112 clips of 16 frames, torchvision's real widths
(midplanes 230 and 288 in layer2, 400 classes), F(2,3) in layer4, a single clip's row split. The weights are
torchvision's default initialisation with random BatchNorm statistics, 120 MB a file: made in DIR, never committed.
"""
import sys

import torch
from logit_parity import verdict  # tools/ is the script's folder, so first on sys.path
from make_fixtures import randomise_batch_norm
from safetensors.torch import load_file, save_file
from torchvision.models.video import r2plus1d_18



def make(out, batch):
    torch.manual_seed(2018)
    g = torch.Generator().manual_seed(7)
    model = r2plus1d_18(num_classes=400).eval()
    randomise_batch_norm(model, g)
    # Normalised video frames are roughly unit-scale.
    clips = torch.randn(batch, 3, 16, 112, 112, generator=g)
    with torch.inference_mode():
        logits = model(clips)
    state = model.state_dict()
    torch.save(state, f"{out}/r2plus1d_18.pth")
    torch.save(state, f"{out}/r2plus1d_18_legacy.pth", _use_new_zipfile_serialization=False)
    save_file({k: v.contiguous() for k, v in state.items() if not k.endswith("num_batches_tracked")},
              f"{out}/r2plus1d_18.safetensors")
    save_file({"clips": clips.contiguous()}, f"{out}/input.safetensors")
    save_file({"clips": clips[:1].contiguous()}, f"{out}/input1.safetensors")
    save_file({"logits": logits.contiguous()}, f"{out}/expected.safetensors")


def compare(out, ours):
    expected = load_file(f"{out}/expected.safetensors")["logits"].double()
    scale = expected.abs().max().item()
    failed = False
    for path in ours:
        got = load_file(path)["logits"].double()
        want = expected[:got.shape[0]]
        if got.shape != want.shape:
            print(f"{path}: shape {list(got.shape)}, torchvision {list(expected.shape)}")
            failed = True
            continue
        failed |= not verdict(path.split("/")[-1], got.numpy(), want.numpy(), scale)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3:]))
    else:
        sys.exit(__doc__)
