#!/usr/bin/python3
"""torch_slak.py: the PyTorch peer of bench_large_kernel.c.

The same network as frugal's "slak" model (src/models/convnext.c):
ConvNeXt layout scaled to small images (2x2/2 stem, 3 stages of 2 blocks,
widths 32/64/128, LayerNorm eps 1e-6, layer scale), each block's depthwise
KxK conv replaced by SLaK's Kx5 + 5xK + 5x5 depthwise convs each with
BatchNorm (a block whose K is not above 5 has one KxK branch), kernels by
the same rule (29-27-15 at 64x64). Times, on batch 64 of side x side
single-channel images: a training step (forward, cross-entropy, backward,
AdamW) and an eval forward under no_grad of the three-branch form and of
the merged form (one KxK depthwise conv with bias per block). 2 warm-up
calls, then the median of `reps` samples, in ms; 2 threads by default.
Run with OMP_WAIT_POLICY=PASSIVE:

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_slak.py --side 64

Prints: slak<side> train_ms <t> eval_ms <t> merged_eval_ms <t> params <n>
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def kernels(side):
    k, prev = [], 0
    for s in range(3):
        m = side
        for _ in range(s + 1):
            m //= 2
        cap = 2 * m - 1
        kk = (int(math.ceil(0.9 * m - 1e-9)) | 1) if s == 0 else prev - 2
        kk = max(1, min(kk, cap))
        k.append(kk)
        prev = kk
    return k


class LNC(nn.Module):  # LayerNorm over channels of NCHW
    def __init__(self, c):
        super().__init__()
        self.ln = nn.LayerNorm(c, eps=1e-6)

    def forward(self, x):
        return self.ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class Branch(nn.Module):
    def __init__(self, c, kh, kw):
        super().__init__()
        self.conv = nn.Conv2d(c, c, (kh, kw), padding=(kh // 2, kw // 2), groups=c, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return self.bn(self.conv(x))


class Block(nn.Module):
    def __init__(self, d, k, small=5, merged=False):
        super().__init__()
        if merged:
            self.branches = nn.ModuleList([nn.Conv2d(d, d, k, padding=k // 2, groups=d)])
        elif k > small:
            self.branches = nn.ModuleList([Branch(d, k, small), Branch(d, small, k), Branch(d, small, small)])
        else:
            self.branches = nn.ModuleList([Branch(d, k, k)])
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.pwconv1 = nn.Linear(d, 4 * d)
        self.pwconv2 = nn.Linear(4 * d, d)
        self.gamma = nn.Parameter(1e-6 * torch.ones(d))

    def forward(self, x):
        y = self.branches[0](x)
        for b in self.branches[1:]:
            y = y + b(x)
        y = y.permute(0, 2, 3, 1)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y)))) * self.gamma
        return x + y.permute(0, 3, 1, 2)


class Slak(nn.Module):
    def __init__(self, side, merged=False, ncls=10):
        super().__init__()
        dims, ks = [32, 64, 128], kernels(side)
        layers = [nn.Conv2d(1, 32, 2, stride=2), LNC(32)]
        for s in range(3):
            if s > 0:
                layers += [LNC(dims[s - 1]), nn.Conv2d(dims[s - 1], dims[s], 2, stride=2)]
            layers += [Block(dims[s], ks[s], merged=merged) for _ in range(2)]
        self.features = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(128, eps=1e-6)
        self.head = nn.Linear(128, ncls)

    def forward(self, x):
        return self.head(self.norm(self.features(x).mean((-2, -1))))


def timed(fn, reps):
    for _ in range(2):
        fn()
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--side", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.rand(64, 1, a.side, a.side) * 2 - 1
    y = torch.arange(64) % 10
    m = Slak(a.side)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4)

    def step():
        opt.zero_grad()
        F.cross_entropy(m(x), y).backward()
        opt.step()

    m.train()
    tr = timed(step, a.reps)
    m.eval()
    mm = Slak(a.side, merged=True).eval()
    with torch.no_grad():
        te = timed(lambda: m(x), a.reps)
        tm = timed(lambda: mm(x), a.reps)
    n = sum(p.numel() for p in m.parameters())
    print("slak%d train_ms %.2f eval_ms %.2f merged_eval_ms %.2f params %d" % (a.side, tr, te, tm, n))


if __name__ == "__main__":
    main()
