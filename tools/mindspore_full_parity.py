"""Full-size parity with MindSpore: R2Plus1d18 built with r2plus1d_mindspore's names, saved by MindSpore, against
`r2plus1d forward` on the same checkpoints.

Usage (in the venv scripts/parity-mindspore-full.sh makes; it runs both steps):
  python tools/mindspore_full_parity.py make DIR BATCH   writes DIR/seed.ckpt (save_checkpoint with crc_check=True),
                                                DIR/seed_train.ckpt (ModelCheckpoint after one Momentum step: with
                                                moments.*, global_step, learning_rate, ...), DIR/input.safetensors
                                                ('clips' [BATCH,3,16,112,112]) and MindSpore's logits for each in
                                                DIR/expected_seed.npy and DIR/expected_seed_train.npy
  python tools/mindspore_full_parity.py compare DIR OURS...  each OURS (`forward` output named
                                                <checkpoint stem>.safetensors) against MindSpore's logits

The weights are random (tools/make_mindspore_fixtures.py's randomise), 126 MB a file: made in DIR, never committed.
"""
import os
import sys

import mindspore as ms
import numpy as np
from logit_parity import verdict  # tools/ is first on sys.path
from make_mindspore_fixtures import SeedR2Plus1D, logits, randomise, train_one_step
from safetensors.numpy import load_file, save_file



def make(out, batch):
    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
    ms.set_seed(2018)
    net = SeedR2Plus1D(stem_mid=45, stem_out=64, planes=(64, 128, 256, 512), classes=400)
    randomise(net, 7)
    clips = np.random.default_rng(11).standard_normal((batch, 3, 16, 112, 112)).astype(np.float32)
    save_file({"clips": clips}, f"{out}/input.safetensors")
    np.save(f"{out}/expected_seed.npy", logits(net, clips))
    ms.save_checkpoint(net, f"{out}/seed.ckpt", crc_check=True)
    trained = train_one_step(net, clips, out, "train")
    os.rename(trained, f"{out}/seed_train.ckpt")
    np.save(f"{out}/expected_seed_train.npy", logits(net, clips))


def compare(out, ours):
    failed = False
    for path in ours:
        stem = os.path.basename(path).rsplit(".", 1)[0]
        want = np.load(f"{out}/expected_{stem}.npy").astype(np.float64)
        got = load_file(path)["logits"].astype(np.float64)
        scale = np.abs(want).max()
        if got.shape != want.shape:
            print(f"{stem}: shape {list(got.shape)}, MindSpore {list(want.shape)}")
            failed = True
            continue
        failed |= not verdict(f"{stem}.ckpt", got, want, scale)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3:]))
    else:
        sys.exit(__doc__)
