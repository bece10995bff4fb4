#!/usr/bin/python3
"""torch_conv.py: the PyTorch peer of bench_conv.c (same cases, same timing).

Each case is a conv2d (NCHW, batch 64, 28x28, stride 1, padding k//2, bias)
timed forward only (under no_grad) and forward + backward of y.sum() with
x, w and b requiring grad; 2 warm-up calls, then the median of `reps`
single-call samples, in ms. Runs PyTorch on 2 threads by default, like
bench_conv. Run with OMP_WAIT_POLICY=PASSIVE so idle OpenMP threads do not
spin against the other process on a shared machine:

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_conv.py

With --frugal FILE (the output of bench_conv) it also prints a markdown
table with the ratio torch_ms / frugal_ms (> 1 means frugal is faster).
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

CASES = [
    ("conv3x3_c32", 64, 32, 28, 28, 32, 3, 1),
    ("dw7x7_c64", 64, 64, 28, 28, 64, 7, 64),
    ("dw13x13_c64", 64, 64, 28, 28, 64, 13, 64),
    ("dw31x31_c64", 64, 64, 28, 28, 64, 31, 64),
    ("dw51x51_c64_56", 16, 64, 56, 56, 64, 51, 64),
]


def run_case(case, reps):
    name, n, c, h, w, o, k, groups = case
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(n, c, h, w, generator=g) * 2 - 1).requires_grad_()
    wt = (torch.rand(o, c // groups, k, k, generator=g) * 2 - 1).requires_grad_()
    b = (torch.rand(o, generator=g) * 2 - 1).requires_grad_()
    pad = k // 2
    tf, tb = [], []
    for r in range(-2, reps):
        with torch.no_grad():
            t0 = time.perf_counter()
            F.conv2d(x, wt, b, padding=pad, groups=groups)
            t1 = time.perf_counter()
        x.grad = wt.grad = b.grad = None
        t2 = time.perf_counter()
        y = F.conv2d(x, wt, b, padding=pad, groups=groups)
        y.sum().backward()
        t3 = time.perf_counter()
        if r >= 0:
            tf.append(t1 - t0)
            tb.append(t3 - t2)
    return 1e3 * statistics.median(tf), 1e3 * statistics.median(tb)


def read_frugal(path):
    out = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 5 and p[1] == "fwd_ms" and p[3] == "fwdbwd_ms":
                out[p[0]] = (float(p[2]), float(p[4]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--frugal", help="bench_conv output to compare against")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"# torch_conv: torch {torch.__version__}, threads {a.threads}, median of {a.reps}")
    res = {}
    for case in CASES:
        res[case[0]] = run_case(case, a.reps)
        print(f"{case[0]:<14} fwd_ms {res[case[0]][0]:9.3f} fwdbwd_ms {res[case[0]][1]:9.3f}",
              flush=True)
    if a.frugal:
        fr = read_frugal(a.frugal)
        print("\n| case | frugal fwd ms | torch fwd ms | fwd ratio | frugal fwd+bwd ms |"
              " torch fwd+bwd ms | fwd+bwd ratio |")
        print("|---|---|---|---|---|---|---|")
        for name, (tf, tb) in res.items():
            if name not in fr:
                continue
            ff, fb = fr[name]
            print(f"| {name} | {ff:.2f} | {tf:.2f} | {tf / ff:.2f} | {fb:.2f} | {tb:.2f} |"
                  f" {tb / fb:.2f} |")


if __name__ == "__main__":
    main()
