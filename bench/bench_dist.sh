#!/bin/sh
# bench_dist.sh: data parallel on this machine. For the small CNN (one
# epoch, batch 128) and nanoGPT's shakespeare-char configuration (ITERS
# iterations), it runs 1 rank x 2 threads and 2 ranks x 1 thread (mpirun)
# with the gradient all-reduce in buckets of 256 KiB started during the
# backward pass ("2x1-buckets", --bucket-kb 256) and as one all-reduce
# after it ("2x1-once", --bucket-kb 0: the default on one machine), twice
# each, interleaved, and prints per run the time per step, the exposed
# all-reduce time per step (time in MPI calls, rank 0's) and the bytes
# all-reduced per step (from results.json).
# resnet20 (20 steps) is timed at 1 rank x 2 threads for the scale model,
# and at 2 ranks x 1 thread with batch norm synchronised (the default) and
# per rank (--local-bn).
#
# Usage: bench/bench_dist.sh [FRUGAL_BIN (build/frugal)] [ITERS (300)]
#   env: DATA_DIR (/usr/share/datasets/fashion-mnist), PYTHON (/usr/bin/python3)
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-build/frugal}
ITERS=${2:-300}
DATA_DIR=${DATA_DIR:-/usr/share/datasets/fashion-mnist}
PYTHON=${PYTHON:-/usr/bin/python3}
command -v mpirun >/dev/null || { echo "bench_dist: needs mpirun (apt-get install openmpi-bin)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BIN" version | sed -n '3p'
MPI="sh tests/mpi_run.sh 2"

metric() { # results.json key [per]
    "$PYTHON" - "$1" "$2" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
print(m[sys.argv[2]]["value"] if sys.argv[2] in m else "nan")
EOF
}

CNN="train --model cnn --epochs 1 --batch 128 --seed 1 --data-dir $DATA_DIR --progress-every 100000"
LM="train-lm --iters $ITERS --eval-interval $ITERS --eval-iters 2 --seed 1"
echo "| task | ranks x threads | run | time per step (ms) | all-reduce per step (ms) | bytes per step | test acc / val loss |"
echo "|---|---|---|---|---|---|---|"
for run in 1 2; do
    for conf in 1x2 2x1-buckets 2x1-once; do
        d="$tmp/cnn-$conf-$run"
        case $conf in
        1x2) "$BIN" $CNN --threads 2 --results "$d" >"$d.log" 2>&1 ;;
        2x1-buckets) $MPI "$BIN" $CNN --threads 1 --bucket-kb 256 --results "$d" >"$d.log" 2>&1 ;;
        *) $MPI "$BIN" $CNN --threads 1 --bucket-kb 0 --results "$d" >"$d.log" 2>&1 ;;
        esac
        steps=$(metric "$d/results.json" "optimizer steps")
        t=$(metric "$d/results.json" "training time")
        c=$(metric "$d/results.json" "all-reduce time per step")
        b=$(metric "$d/results.json" "all-reduce bytes per step")
        a=$(metric "$d/results.json" "test accuracy")
        "$PYTHON" -c "import sys; s,t,c,b,a=map(float,sys.argv[1:]); print('| CNN epoch | $conf | $run | %.2f | %.2f | %.0f | %.2f%% |' % (1e3*t/s, 1e3*c, b, a))" "$steps" "$t" "$c" "$b" "$a"
    done
    for conf in 1x2 2x1-buckets 2x1-once; do
        d="$tmp/lm-$conf-$run"
        case $conf in
        1x2) "$BIN" $LM --threads 2 --results "$d" >"$d.log" 2>&1 ;;
        2x1-buckets) $MPI "$BIN" $LM --threads 1 --bucket-kb 256 --results "$d" >"$d.log" 2>&1 ;;
        *) $MPI "$BIN" $LM --threads 1 --bucket-kb 0 --results "$d" >"$d.log" 2>&1 ;;
        esac
        t=$(metric "$d/results.json" "train_seconds")
        c=$(metric "$d/results.json" "all-reduce time per step")
        b=$(metric "$d/results.json" "all-reduce bytes per step")
        v=$(metric "$d/results.json" "full_val_loss")
        "$PYTHON" -c "import sys; t,c,b,v=map(float,sys.argv[1:]); print('| nanoGPT config | $conf | $run | %.2f | %.2f | %.0f | %.4f |' % (1e3*t/$ITERS, 1e3*c, b, v))" "$t" "$c" "$b" "$v"
    done
done
R20="train --model resnet20 --epochs 1 --limit-train 2816 --batch 128 --seed 1 --data-dir $DATA_DIR --progress-every 100000"
for conf in 1x2 2x1 2x1-local-bn; do
    d="$tmp/resnet20-$conf"
    case $conf in
    1x2) "$BIN" $R20 --threads 2 --results "$d" >"$d.log" 2>&1 ;;
    2x1) $MPI "$BIN" $R20 --threads 1 --results "$d" >"$d.log" 2>&1 ;;
    *) $MPI "$BIN" $R20 --threads 1 --local-bn --results "$d" >"$d.log" 2>&1 ;;
    esac
    steps=$(metric "$d/results.json" "optimizer steps")
    t=$(metric "$d/results.json" "training time")
    c=$(metric "$d/results.json" "all-reduce time per step")
    b=$(metric "$d/results.json" "all-reduce bytes per step")
    p=$(metric "$d/results.json" "parameters")
    "$PYTHON" -c "import sys; s,t,c,b,p=map(float,sys.argv[1:]); print('resnet20 %s: %d steps of batch 128: %.1f ms per step (training time incl. its validation pass), all-reduce %.2f ms and %.0f bytes per step, %d parameters' % ('$conf', s, 1e3*t/s, 1e3*c, b, p))" "$steps" "$t" "$c" "$b" "$p"
done
