"""Makes the MindSpore checkpoint fixtures with MindSpore itself (run once; the outputs are committed).

Usage: python tools/make_mindspore_fixtures.py   (in a venv with mindspore==2.10.0 and numpy<2, CPU)

Writes to Tests/R2Plus1DTests/Fixtures/mindspore/:
  tiny_seed.ckpt        a narrow R(2+1)D-18 with r2plus1d_mindspore's names, by mindspore.save_checkpoint
  tiny_seed_train.ckpt  the same network after one training step, by ModelCheckpoint: also holds the Momentum
                        optimizer's moments.*, learning_rate, momentum, global_step, epoch_num and step_num
  tiny_seed_io.ckpt     'clips' [2,3,8,24,24] (Float16), MindSpore's 'logits' [2,10] for tiny_seed.ckpt and
                        'train_logits' [2,10] for tiny_seed_train.ckpt, by mindspore.save_checkpoint

The network (SeedR2Plus1D) is built the way r2plus1d_mindspore's R2Plus1d18 is: a `conv1` stem of six cells,
ResidualBlockBase3D blocks holding `conv12` (Conv2Plus1d: four Unit3D, each a `features` SequentialCell of Conv3d,
BatchNorm3d and ReLU), a `down_sample` Unit3D, and a `classifier` Dense; only the widths are parameters, so
tools/mindspore_full_parity.py builds the full-size one from the same code.
"""
import os
import tempfile

import mindspore as ms
import numpy as np
from mindspore import nn, ops

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "R2Plus1DTests", "Fixtures", "mindspore")


def conv3d(cin, cout, kernel, stride):
    """A bias-free Conv3d padded (k-1)//2 on each side, as the seed's Unit3D pads."""
    pad = []
    for k in kernel:
        pad += [(k - 1) // 2] * 2
    return nn.Conv3d(cin, cout, kernel_size=kernel, stride=stride, pad_mode="pad", padding=tuple(pad), has_bias=False)


class Unit3D(nn.Cell):
    """Conv3d, BatchNorm3d and an optional ReLU in a `features` SequentialCell."""

    def __init__(self, cin, cout, kernel, stride, relu=True):
        super().__init__()
        layers = [conv3d(cin, cout, kernel, stride), nn.BatchNorm3d(cout)]
        if relu:
            layers.append(nn.ReLU())
        self.features = nn.SequentialCell(layers)

    def construct(self, x):
        return self.features(x)


class Conv2Plus1d(nn.Cell):
    """Both (2+1)D convolutions of a block; midplanes as torchvision computes them, from the block's input width."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        mid = (cin * cout * 3 * 3 * 3) // (cin * 3 * 3 + 3 * cout)
        self.conv1_0 = Unit3D(cin, mid, (1, 3, 3), (1, stride, stride))
        self.conv1_1 = Unit3D(mid, cout, (3, 1, 1), (stride, 1, 1))
        self.conv2_0 = Unit3D(cout, mid, (1, 3, 3), (1, 1, 1))
        self.conv2_1 = Unit3D(mid, cout, (3, 1, 1), (1, 1, 1), relu=False)

    def construct(self, x):
        return self.conv2_1(self.conv2_0(self.conv1_1(self.conv1_0(x))))


class Block(nn.Cell):
    """ResidualBlockBase3D: conv12, plus the input (through down_sample when the shape changes), then ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv12 = Conv2Plus1d(cin, cout, stride)
        self.relu = nn.ReLU()
        self.down_sample = None
        if stride != 1 or cin != cout:
            self.down_sample = Unit3D(cin, cout, (1, 1, 1), (stride, stride, stride), relu=False)

    def construct(self, x):
        identity = x
        out = self.conv12(x)
        if self.down_sample is not None:
            identity = self.down_sample(x)
        return self.relu(out + identity)


class SeedR2Plus1D(nn.Cell):
    """R2Plus1d18's layout and names with free widths (the seed's: 45, 64, (64, 128, 256, 512), 400). The
    default has the same topology as tools/make_fixtures.py's (no downsample in layer1), so the same names."""

    def __init__(self, stem_mid=4, stem_out=4, planes=(4, 6, 8, 10), classes=10):
        super().__init__()
        self.conv1 = nn.SequentialCell([
            nn.Conv3d(3, stem_mid, kernel_size=(1, 7, 7), stride=(1, 2, 2), pad_mode="pad",
                      padding=(0, 0, 3, 3, 3, 3), has_bias=False),
            nn.BatchNorm3d(stem_mid), nn.ReLU(),
            nn.Conv3d(stem_mid, stem_out, kernel_size=(3, 1, 1), stride=(1, 1, 1), pad_mode="pad",
                      padding=(1, 1, 0, 0, 0, 0), has_bias=False),
            nn.BatchNorm3d(stem_out), nn.ReLU()])
        cin = stem_out
        for i, (width, stride) in enumerate(zip(planes, (1, 2, 2, 2))):
            setattr(self, f"layer{i + 1}", nn.SequentialCell([Block(cin, width, stride), Block(width, width, 1)]))
            cin = width
        self.mean = ops.ReduceMean(keep_dims=False)
        self.classifier = nn.Dense(cin, classes)

    def construct(self, x):
        x = self.conv1(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.classifier(self.mean(x, (2, 3, 4)))


def randomise(net, seed):
    """Every parameter from numpy with `seed`: convs and the classifier at He scale, BatchNorm statistics spread
    out (variance 0.5-1.5) so a wrong gamma/beta/mean/variance map shows in the logits."""
    rng = np.random.default_rng(seed)
    for p in net.get_parameters():
        shape = p.shape
        name = p.name
        if name.endswith("gamma") or name.endswith("moving_variance"):
            data = rng.random(shape) + 0.5
        elif name.endswith("beta") or name.endswith("moving_mean") or name.endswith("bias"):
            data = rng.standard_normal(shape) * 0.1
        else:
            fan_in = int(np.prod(shape[1:]))
            data = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        p.set_data(ms.Tensor(data.astype(np.float32)))


def logits(net, clips):
    net.set_train(False)
    return net(ms.Tensor(clips)).asnumpy()


def train_one_step(net, clips, directory, prefix):
    """One Momentum step through Model.train, saved by ModelCheckpoint: the file holds the optimizer's state beside
    the network's. Returns the checkpoint's path."""
    from mindspore.dataset import NumpySlicesDataset
    from mindspore.train import Model
    from mindspore.train.callback import CheckpointConfig, ModelCheckpoint

    labels = np.arange(clips.shape[0], dtype=np.int32)
    data = NumpySlicesDataset({"clips": clips, "labels": labels}, shuffle=False).batch(clips.shape[0])
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    optimizer = nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9)
    model = Model(net, loss, optimizer)
    config = CheckpointConfig(save_checkpoint_steps=1, keep_checkpoint_max=1, append_info=["epoch_num", "step_num"])
    net.set_train(True)
    model.train(1, data, callbacks=[ModelCheckpoint(prefix=prefix, directory=directory, config=config)],
                dataset_sink_mode=False)
    files = sorted(f for f in os.listdir(directory) if f.startswith(prefix) and f.endswith(".ckpt"))
    return os.path.join(directory, files[-1])


def main():
    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
    ms.set_seed(2018)
    os.makedirs(OUT, exist_ok=True)
    net = SeedR2Plus1D()
    randomise(net, 7)
    # Stored as Float16 to keep the fixture small; the network sees exactly those values.
    clips16 = np.random.default_rng(11).standard_normal((2, 3, 8, 24, 24)).astype(np.float16)
    clips = clips16.astype(np.float32)
    plain = logits(net, clips)
    ms.save_checkpoint(net, os.path.join(OUT, "tiny_seed.ckpt"))

    with tempfile.TemporaryDirectory() as scratch:
        trained = train_one_step(net, clips, scratch, "tiny_seed_train")
        with open(trained, "rb") as f, open(os.path.join(OUT, "tiny_seed_train.ckpt"), "wb") as g:
            g.write(f.read())
    train = logits(net, clips)
    ms.save_checkpoint([{"name": "clips", "data": ms.Tensor(clips16)},
                        {"name": "logits", "data": ms.Tensor(plain)},
                        {"name": "train_logits", "data": ms.Tensor(train)}],
                       os.path.join(OUT, "tiny_seed_io.ckpt"))
    print("max |logit|", np.abs(plain).max(), "after one step", np.abs(train).max(),
          "max change", np.abs(train - plain).max(), "params", sum(p.size for p in net.trainable_params()))
    for name in ("tiny_seed.ckpt", "tiny_seed_train.ckpt", "tiny_seed_io.ckpt"):
        os.chmod(os.path.join(OUT, name), 0o644)  # MindSpore writes 0400


if __name__ == "__main__":
    main()
