#!/usr/bin/env python3
"""PyTorch peer of `frugal train --model cnn|resnet20`: the same small CNN
(src/models/cnn.c) or ResNet-20 (src/models/resnet.c: option-A
shortcuts, batch norm, no conv biases), the same recipe as frugal's defaults (AdamW lr 1e-3,
betas 0.9/0.999, eps 1e-8, decoupled weight decay 1e-4, per-step cosine
decay to 0, batch 128, 10% of the training images held out for validation,
inputs (x/255 - 0.2860)/0.3530), reading the same IDX .gz files with
gzip + numpy. Prints the epoch wall time (training + validation pass), the
test accuracy and the process's peak RSS, one `key value` per line.

The validation split and the shuffling come from torch's RNG, not
frugal's, so the two runs see the same amount of work in a different order.
"""
import argparse
import gzip
import math
import os
import resource
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

MEAN, STD = 0.2860, 0.3530


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    if magic >> 8 != 0x08 or ndim not in (1, 3):
        sys.exit(f"torch_train_cnn: {path}: not an unsigned-byte IDX file")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        sys.exit(f"torch_train_cnn: {path}: size does not match header")
    return arr.reshape(dims)


def load(data_dir, split):
    x = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"))
    x = (torch.from_numpy(x.astype(np.float32)) / 255.0 - MEAN) / STD
    return x.unsqueeze(1).contiguous(), torch.from_numpy(y.astype(np.int64))


class CNN(nn.Module):
    def __init__(self, k=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, k)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = stride != 1 or cin != cout

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.down:  # option A: subsample, zero-pad the channels
            s = x[:, :, ::2, ::2]
            p = s.shape[1] // 2
            x = F.pad(s, (0, 0, 0, 0, p, p))
        return F.relu(y + x)


class ResNet20(nn.Module):
    def __init__(self, k=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                layers.append(Block(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, k)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


@torch.no_grad()
def accuracy(model, x, y, batch):
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    model.train()
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--model", default="cnn", choices=["cnn", "resnet20"])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--val-frac", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.epochs < 1 or a.batch < 1 or a.threads < 1 or not (0 <= a.val_frac < 1):
        sys.exit("torch_train_cnn: --epochs, --batch, --threads must be >= 1 and --val-frac in [0, 1)")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    t0 = time.perf_counter()
    xtr, ytr = load(a.data_dir, "train")
    xte, yte = load(a.data_dir, "t10k")
    perm = torch.randperm(len(xtr))
    n_val = int(a.val_frac * len(xtr))
    xval, yval = xtr[perm[:n_val]], ytr[perm[:n_val]]
    xtr, ytr = xtr[perm[n_val:]], ytr[perm[n_val:]]
    load_s = time.perf_counter() - t0

    model = CNN() if a.model == "cnn" else ResNet20()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=a.wd)
    spe = math.ceil(len(xtr) / a.batch)
    total = spe * a.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    for epoch in range(a.epochs):
        t = time.perf_counter()
        order = torch.randperm(len(xtr))
        loss_sum = 0.0
        for b in range(spe):
            idx = order[b * a.batch:(b + 1) * a.batch]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
        val = accuracy(model, xval, yval, a.batch) if n_val else float("nan")
        dt = time.perf_counter() - t
        print(f"epoch {epoch + 1} seconds {dt:.3f} train_loss {loss_sum / len(xtr):.4f} "
              f"val_acc {100 * val:.2f}", flush=True)
    test = accuracy(model, xte, yte, a.batch)
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"torch {torch.__version__} threads {a.threads}")
    print(f"load_seconds {load_s:.3f}")
    print(f"epoch_seconds {dt:.3f}")
    print(f"test_acc {100 * test:.2f}")
    print(f"peak_rss_mib {rss_kib / 1024:.1f}")


if __name__ == "__main__":
    main()
