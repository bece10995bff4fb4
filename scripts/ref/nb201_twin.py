#!/usr/bin/env python3
"""nb201_twin.py: NAS-Bench-201's TinyNetwork written out in PyTorch from the
benchmark's module definitions (ReLUConvBN, POOLING with
count_include_pad=False, Zero, Identity, ResNetBasicblock, InferCell), for
frugal's nb201 tests: parameter counts and state_dict names, and, with
--check CKPT, the logits of a frugal checkpoint on the input and logits it
stores (frugal's test writes them; see tests/test_nb201.c).

usage: python3 nb201_twin.py CELL [C N]      counts and names
       python3 nb201_twin.py --check FILE     compare logits (exit 1 if off)
"""
import json
import struct
import sys

try:
    import numpy as np
    import torch
    import torch.nn as nn
except ImportError:  # the caller skips (python3-torch / python3-numpy missing)
    sys.exit(77)

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


class ReLUConvBN(nn.Module):
    def __init__(self, cin, cout, k, stride, pad):
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(inplace=False),
                                nn.Conv2d(cin, cout, k, stride, pad, bias=False),
                                nn.BatchNorm2d(cout))

    def forward(self, x):
        return self.op(x)


class Pool(nn.Module):
    def __init__(self):
        super().__init__()
        self.op = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x):
        return self.op(x)


class Zero(nn.Module):
    def forward(self, x):
        return x.mul(0.0)


class Identity(nn.Module):
    def forward(self, x):
        return x


def make_op(name, c):
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(c, c, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(c, c, 3, 1, 1)
    return Pool()


class ResBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv_a = ReLUConvBN(cin, cout, 3, 2, 1)
        self.conv_b = ReLUConvBN(cout, cout, 3, 1, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2, 0),
                                        nn.Conv2d(cin, cout, 1, 1, 0, bias=False))

    def forward(self, x):
        return self.downsample(x) + self.conv_b(self.conv_a(x))


EDGES = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]


class Cell(nn.Module):
    def __init__(self, ops, c):
        super().__init__()
        self.ops = ops
        self.layers = nn.ModuleList([make_op(OPS[o], c) for o in ops])

    def forward(self, x):
        nodes = [x]
        for j in (1, 2, 3):
            terms = [self.layers[e](nodes[i]) for e, (t, i) in enumerate(EDGES) if t == j]
            nodes.append(sum(terms))
        return nodes[3]


class TinyNetwork(nn.Module):
    def __init__(self, ops, C=16, N=1, cin=1, ncls=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(cin, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        cells, c = [], C
        for i in range(3 * N + 2):
            if i in (N, 2 * N + 1):
                cells.append(ResBlock(c, 2 * c))
                c *= 2
            else:
                cells.append(Cell(ops, c))
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, ncls)

    def forward(self, x):
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        x = self.global_pooling(self.lastact(x))
        return self.classifier(x.flatten(1))


def parse(s):
    ops = []
    for node in s.strip("|").split("|+|"):
        for term in node.split("|"):
            ops.append(OPS.index(term.split("~")[0]))
    return ops


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    meta = head.pop("__metadata__", {})
    out = {}
    for k, v in head.items():
        assert v["dtype"] == "F32", (k, v["dtype"])
        a, b = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"]).copy())
    return meta, out


def main():
    if sys.argv[1] == "--check":
        meta, t = read_safetensors(sys.argv[2])
        code, C, N = meta["nb201"].split(":")
        net = TinyNetwork([int(c) for c in code], int(C), int(N)).double()
        sd = {k: v for k, v in t.items() if not k.startswith("test.")}
        for k, v in net.state_dict().items():
            if k.endswith("num_batches_tracked"):
                sd[k] = torch.tensor(int(sd[k].item()) if k in sd else 0)
        net.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in sd.items()})
        names = set(net.state_dict())
        if names != set(sd):
            print("names differ: frugal only %s, twin only %s" % (sorted(set(sd) - names), sorted(names - set(sd))))
            sys.exit(1)
        net.eval()
        with torch.no_grad():
            got = net(t["test.input"].double())
        want = t["test.logits"].double()
        err = (got - want).abs().max().item()
        scale = want.abs().max().item()
        print("nb201 %s: max |logit difference| %.3g (logits up to %.3g)" % (meta["nb201"], err, scale))
        sys.exit(0 if err <= 1e-4 * max(1.0, scale) else 1)
    ops = parse(sys.argv[1])
    C = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    N = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    net = TinyNetwork(ops, C, N)
    sd = net.state_dict()
    print(sum(p.numel() for p in net.parameters()), sum(v.numel() for v in sd.values()), len(sd))


if __name__ == "__main__":
    main()
