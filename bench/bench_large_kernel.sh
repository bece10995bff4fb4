#!/bin/sh
# bench_large_kernel.sh: the large-kernel teacher (slak) whole, frugal
# against PyTorch on the same network (bench/torch_slak.py), at 28 x 28
# and 64 x 64 inputs, RUNS times each, interleaved (frugal, PyTorch,
# frugal, ...), 2 threads each; prints the CPU and a markdown table of the
# medians: training step, eval forward of the three-branch and the merged
# (re-parameterised) form, and the ratios PyTorch / frugal (> 1: frugal
# faster) and three-branch / merged.
#
# Usage: bench/bench_large_kernel.sh [BUILD_DIR (build)] [RUNS (3)]
#   env: PYTHON (/usr/bin/python3)
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-3}
PYTHON=${PYTHON:-/usr/bin/python3}
BIN="$BUILD/bench/bench_large_kernel"
[ -x "$BIN" ] || { echo "bench_large_kernel: build $BIN first" >&2; exit 1; }
"$PYTHON" -c "import torch" 2>/dev/null || { echo "bench_large_kernel: needs PyTorch ($PYTHON; make bench-deps)" >&2; exit 1; }
"$BUILD/frugal" version | sed -n '3p'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for side in 28 64; do
    for r in $(seq "$RUNS"); do
        "$BIN" --side "$side" --threads 2 --reps 3 >>"$tmp/frugal-$side"
        OMP_WAIT_POLICY=PASSIVE "$PYTHON" bench/torch_slak.py --side "$side" --threads 2 --reps 3 >>"$tmp/torch-$side"
    done
done
"$PYTHON" - "$tmp" <<'PY'
import statistics, sys
d = sys.argv[1]
def med(path, key):
    vals = []
    for line in open(path):
        f = line.split()
        vals.append(float(f[f.index(key) + 1]))
    return statistics.median(vals), min(vals), max(vals)
print("| input | step frugal (ms) | step PyTorch (ms) | PyTorch / frugal | eval frugal 3-branch / merged (ms) | eval PyTorch 3-branch / merged (ms) | frugal 3-branch / merged |")
print("|---|---|---|---|---|---|---|")
for side in (28, 64):
    f, t = "%s/frugal-%d" % (d, side), "%s/torch-%d" % (d, side)
    fs, ts = med(f, "train_ms"), med(t, "train_ms")
    fe, fm = med(f, "eval_ms"), med(f, "merged_eval_ms")
    te, tm = med(t, "eval_ms"), med(t, "merged_eval_ms")
    print("| %d x %d | %.1f [%.1f, %.1f] | %.1f [%.1f, %.1f] | %.2f | %.1f / %.1f | %.1f / %.1f | %.2f |" % (
        side, side, fs[0], fs[1], fs[2], ts[0], ts[1], ts[2], ts[0] / fs[0], fe[0], fm[0], te[0], tm[0], fe[0] / fm[0]))
print("(medians over runs of each run's median of 3 steps; [min, max] over runs)")
PY
