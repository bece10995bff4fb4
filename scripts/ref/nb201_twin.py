#!/usr/bin/env python3
"""nb201_twin.py: NAS-Bench-201's TinyNetwork written out in PyTorch from the
benchmark's module definitions (ReLUConvBN, POOLING with
count_include_pad=False, Zero, Identity, ResNetBasicblock, InferCell), for
frugal's nb201 tests: parameter counts and state_dict names, and, with
--check CKPT, the logits of a frugal checkpoint on the input and logits it
stores (frugal's test writes them; see tests/test_nb201.c).

usage: python3 nb201_twin.py CELL [C N]      counts and names
       python3 nb201_twin.py --check FILE     compare logits (exit 1 if off)
       python3 nb201_twin.py --proxies FILE   compare zero-shot proxies (exit 1 if off)

--proxies recomputes, from the reference code's definitions in PyTorch
(float64 unless the definition says otherwise), grad_norm, snip, grasp
(exact Hessian-vector product by double backward), fisher, synflow,
jacob_cov, naswot, zico, gradsign and ntk of the network in FILE on its
batch (test.input, test.labels) and compares them with frugal's
(test.scores, in methods/nas.h's order).
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
    types = {"F32": "<f4", "F64": "<f8", "I32": "<i4"}
    for k, v in head.items():
        a, b = v["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=types[v["dtype"]]).reshape(v["shape"]).copy()
        out[k] = torch.from_numpy(arr)
    return meta, out


def load_net(path):
    meta, t = read_safetensors(path)
    code, C, N = meta["nb201"].split(":")
    net = TinyNetwork([int(c) for c in code], int(C), int(N)).double()
    sd = {k: v for k, v in t.items() if not k.startswith("test.")}
    for k in net.state_dict():
        if k.endswith("num_batches_tracked"):
            sd[k] = torch.tensor(int(sd[k].item()) if k in sd else 0)
    names = set(net.state_dict())
    if names != set(sd):
        print("names differ: frugal only %s, twin only %s" % (sorted(set(sd) - names), sorted(names - set(sd))))
        sys.exit(1)
    net.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in sd.items()})
    return meta, t, net


PROXIES = ["params", "flops", "grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov",
           "naswot", "zen", "zico", "gradsign", "ntk", "linear_regions"]


def layers(net):
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def ce_grads(net, x, y, create_graph=False):
    net.zero_grad()
    loss = nn.functional.cross_entropy(net(x), y)
    ws = [m.weight for m in layers(net)]
    return torch.autograd.grad(loss, ws, create_graph=create_graph), ws


def proxies(net, x, y):
    out = {}
    net.train()
    g, ws = ce_grads(net, x, y)
    out["grad_norm"] = sum(gi.norm().item() for gi in g)
    out["snip"] = sum((w * gi).abs().sum().item() for w, gi in zip(ws, g))
    # grasp: -theta * (H g), H g exactly (double backward), as the reference
    g0 = [gi.detach() for gi in g]
    g1, ws = ce_grads(net, x, y, create_graph=True)
    z = sum((a * b).sum() for a, b in zip(g0, g1))
    hg = torch.autograd.grad(z, ws)
    out["grasp"] = sum((-w * h).sum().item() for w, h in zip(ws, hg))
    # fisher: conv/linear outputs and their gradients
    acts = []

    def keep(mod, inp, o):
        o.retain_grad()
        acts.append(o)

    hs = [m.register_forward_hook(keep) for m in layers(net)]
    net.zero_grad()
    nn.functional.cross_entropy(net(x), y).backward()
    for h in hs:
        h.remove()
    f = 0.0
    for a in acts:
        prod = a * a.grad
        gnk = prod.sum(dim=[2, 3]) if prod.dim() == 4 else prod
        f += (0.5 * gnk.pow(2).mean(0)).sum().item()
    out["fisher"] = f
    # synflow: |theta|, BN removed, all-ones input
    import copy
    sf = copy.deepcopy(net)
    for name, mod in list(sf.named_modules()):
        for cn, ch in list(mod.named_children()):
            if isinstance(ch, nn.BatchNorm2d):
                setattr(mod, cn, nn.Identity())
    with torch.no_grad():
        for p in sf.parameters():
            p.abs_()
    sf.eval()
    sf.zero_grad()
    sf(torch.ones(1, *x.shape[1:], dtype=torch.float64)).sum().backward()
    out["synflow"] = sum((m.weight * m.weight.grad).abs().sum().item() for m in layers(sf))
    # jacob_cov
    xj = x.clone().requires_grad_(True)
    net.zero_grad()
    net(xj).backward(torch.ones(x.shape[0], 10, dtype=torch.float64))
    J = xj.grad.reshape(x.shape[0], -1).numpy()
    if np.any(J.std(axis=1) == 0):  # a dead network: its correlations are undefined
        out["jacob_cov"] = float("nan")
    else:
        v = np.linalg.eigvalsh(np.corrcoef(J))
        k = 1e-5
        out["jacob_cov"] = -np.sum(np.log(v + k) + 1.0 / (v + k))
    # naswot: ReLU codes
    B = x.shape[0]
    K = np.zeros((B, B))

    def codes(mod, inp, o):
        c = (o.detach().reshape(B, -1) > 0).double().numpy()
        K[:] += c @ c.T + (1 - c) @ (1 - c).T

    hs = [m.register_forward_hook(codes) for m in net.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        net(x)
    for h in hs:
        h.remove()
    out["naswot"] = np.linalg.slogdet(K)[1]
    # zico: two halves
    half = B // 2
    gs = []
    for h in range(2):
        gh, _ = ce_grads(net, x[h * half:(h + 1) * half], y[h * half:(h + 1) * half])
        gs.append([t.detach().numpy().ravel() for t in gh])
    z = 0.0
    for l in range(len(gs[0])):
        a = np.stack([gs[0][l], gs[1][l]])
        sd = a.std(axis=0)
        nz = np.nonzero(sd)[0]
        t = np.sum(np.abs(a).mean(axis=0)[nz] / sd[nz])
        if t != 0:
            z += np.log(t)
    out["zico"] = z
    # gradsign: one sample at a time
    signs = None
    for i in range(B):
        gi, _ = ce_grads(net, x[i:i + 1], y[i:i + 1])
        s = np.concatenate([np.sign(t.detach().numpy().ravel()) for t in gi])
        signs = s if signs is None else signs + s
    out["gradsign"] = np.abs(signs).sum()
    # ntk: per-sample logit sums of the whole batch's forward, "*weight" params
    logit = net(x)
    rows = []
    for i in range(B):
        net.zero_grad()
        logit[i:i + 1].backward(torch.ones_like(logit[i:i + 1]), retain_graph=True)
        rows.append(torch.cat([p.grad.reshape(-1) for n, p in net.named_parameters()
                               if "weight" in n and p.grad is not None]).detach())
    G = torch.stack(rows)
    ev = torch.linalg.eigvalsh(G @ G.T)
    c = (ev[-1] / ev[0]).item()
    out["ntk"] = 100000.0 if np.isnan(c) else c
    return out


def main():
    if sys.argv[1] == "--proxies":
        meta, t, net = load_net(sys.argv[2])
        x = t["test.input"].double()
        y = t["test.labels"].long().reshape(-1)
        got = t["test.scores"].double().reshape(-1).tolist()
        ref = proxies(net, x, y)
        tol = {"grasp": 1e-5, "ntk": 2e-2, "gradsign": 2e-3, "naswot": 1e-3, "zico": 1e-2}
        bad = 0
        for name, want in ref.items():
            have = got[PROXIES.index(name)]
            if np.isnan(want) or np.isinf(want) or np.isnan(have) or np.isinf(have):
                # undefined (NaN) or infinite scores must agree exactly
                same = (np.isnan(want) and np.isnan(have)) or want == have
                rel, ok = (0.0 if same else float("inf")), same
            else:
                rel = abs(have - want) / max(abs(want), 1e-12)
                ok = rel <= tol.get(name, 1e-4)
            bad += not ok
            print("%-10s frugal %14.7g  twin %14.7g  rel %.2e %s" % (name, have, want, rel, "" if ok else "OFF"))
        sys.exit(1 if bad else 0)
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
