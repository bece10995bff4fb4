#!/bin/sh
# bench_train_cnn.sh: one epoch of the small CNN on Fashion-MNIST, batch 128,
# frugal's default recipe, 2 threads, in frugal and in PyTorch (the peer in
# torch_train_cnn.py, same model, recipe and IDX files). Prints each side's
# epoch wall time (training + validation pass), test accuracy and peak RSS,
# then the ratios. frugal's RSS is measured with /usr/bin/time -v; PyTorch's
# with getrusage inside the script (both are the whole process's peak).
#
# Usage: bench/bench_train_cnn.sh [FRUGAL_BIN] [EPOCHS]
#   env: DATA_DIR (default /usr/share/datasets/fashion-mnist), THREADS (2),
#        PYTHON (/usr/bin/python3, which has Debian's python3-torch),
#        PRECISION (f32; bf16 runs frugal's GEMMs in bf16, PyTorch stays f32),
#        MODEL (cnn; or resnet20, the same in both)
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-build/frugal}
EPOCHS=${2:-1}
DATA_DIR=${DATA_DIR:-/usr/share/datasets/fashion-mnist}
THREADS=${THREADS:-2}
PYTHON=${PYTHON:-/usr/bin/python3}
PRECISION=${PRECISION:-f32}
MODEL=${MODEL:-cnn}
[ -x "$BIN" ] || { echo "bench_train_cnn: $BIN is not built (make build)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench_train_cnn: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== frugal ($BIN, $THREADS threads, $EPOCHS epoch(s), precision $PRECISION)"
/usr/bin/time -v "$BIN" train --model "$MODEL" --epochs "$EPOCHS" --batch 128 --threads "$THREADS" \
    --seed 1 --data-dir "$DATA_DIR" --results "$tmp/frugal" --progress-every 100000 \
    --precision "$PRECISION" \
    >"$tmp/frugal.out" 2>"$tmp/frugal.err" || { cat "$tmp/frugal.err" >&2; exit 1; }
cat "$tmp/frugal.out"
f_rss_kib=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$tmp/frugal.err")
f_acc=$(sed -n 's/^test acc \([0-9.]*\)%$/\1/p' "$tmp/frugal.out")
f_epoch=$("$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.3f" % r["series"][[s["name"] for s in r["series"]].index("epoch time")]["y"][-1])' "$tmp/frugal/results.json")

echo "== PyTorch ($PYTHON, $THREADS threads)"
OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS="$THREADS" "$PYTHON" bench/torch_train_cnn.py \
    --model "$MODEL" --data-dir "$DATA_DIR" --epochs "$EPOCHS" --threads "$THREADS" >"$tmp/torch.out"
cat "$tmp/torch.out"
t_epoch=$(sed -n 's/^epoch_seconds //p' "$tmp/torch.out")
t_acc=$(sed -n 's/^test_acc //p' "$tmp/torch.out")
t_rss=$(sed -n 's/^peak_rss_mib //p' "$tmp/torch.out")

echo "== summary (last epoch; time includes the validation pass)"
awk -v fe="$f_epoch" -v te="$t_epoch" -v fa="$f_acc" -v ta="$t_acc" -v fr="$f_rss_kib" -v tr="$t_rss" 'BEGIN {
    fr /= 1024
    printf "%-8s %12s %10s %14s\n", "", "epoch (s)", "test acc", "peak RSS (MiB)"
    printf "%-8s %12.2f %9.2f%% %14.1f\n", "frugal", fe, fa, fr
    printf "%-8s %12.2f %9.2f%% %14.1f\n", "pytorch", te, ta, tr
    printf "epoch time pytorch/frugal: %.2fx (above 1: frugal is faster)\n", te / fe
    printf "peak RSS   pytorch/frugal: %.2fx (above 1: frugal uses less)\n", tr / fr
}'
