#!/bin/sh
# bf16_accuracy.sh: what --precision bf16 costs in accuracy and gains in
# time. For seeds 1..N it trains, in f32 and in bf16 one after the other
# (so machine noise hits both alike):
#   cnn: the Fashion-MNIST CNN, frugal's default recipe (2 epochs, batch
#        128, AdamW, cosine), scored by test accuracy;
#   lm:  nanoGPT's CPU shakespeare-char configuration (gpt2, 2000
#        iterations; train-lm's defaults), scored by the whole validation
#        split's loss.
# It prints each run, then per task the mean of the paired differences
# (bf16 - f32) with a 95% Student-t interval over seeds, the verdict the
# interval gives, and the mean wall-time ratio f32 / bf16.
#
# Usage: bench/bf16_accuracy.sh [FRUGAL_BIN (build/frugal)] [SEEDS (5)] [cnn|lm|both (both)]
#   env: THREADS (2), DATA_DIR (/usr/share/datasets/fashion-mnist),
#        PYTHON (/usr/bin/python3, for the interval arithmetic)
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-build/frugal}
SEEDS=${2:-5}
WHAT=${3:-both}
THREADS=${THREADS:-2}
DATA_DIR=${DATA_DIR:-/usr/share/datasets/fashion-mnist}
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$BIN" ] || { echo "bf16_accuracy: $BIN is not built (make build)" >&2; exit 1; }
case "$WHAT" in cnn | lm | both) ;; *) echo "bf16_accuracy: task must be cnn, lm or both" >&2; exit 2 ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BIN" version | sed -n '1,3p'

run() { # task seed precision
    d="$tmp/$1-$2-$3"
    if [ "$1" = cnn ]; then
        "$BIN" train --model cnn --seed "$2" --threads "$THREADS" --precision "$3" \
            --data-dir "$DATA_DIR" --results "$d" --progress-every 100000 >"$d.log" 2>&1 ||
            { cat "$d.log" >&2; exit 1; }
    else
        "$BIN" train-lm --seed "$2" --threads "$THREADS" --precision "$3" --results "$d" \
            >"$d.log" 2>&1 || { cat "$d.log" >&2; exit 1; }
    fi
}

for task in cnn lm; do
    [ "$WHAT" = both ] || [ "$WHAT" = "$task" ] || continue
    s=1
    while [ "$s" -le "$SEEDS" ]; do
        run "$task" "$s" f32
        run "$task" "$s" bf16
        s=$((s + 1))
    done
done

"$PYTHON" - "$tmp" "$SEEDS" "$WHAT" <<'EOF'
import json, math, sys
tmp, n, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# two-sided 95% Student-t quantiles, df = 1..30
T = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
     2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
     2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
tasks = {"cnn": ("test accuracy", "test accuracy (%)", "training time", +1),
         "lm": ("full_val_loss", "validation loss (nats/token)", "train_seconds", -1)}
for task, (key, label, tkey, better) in tasks.items():
    if what not in ("both", task):
        continue
    rows = []
    for s in range(1, n + 1):
        r = {p: json.load(open(f"{tmp}/{task}-{s}-{p}/results.json"))["metrics"]
             for p in ("f32", "bf16")}
        rows.append((s, r["f32"][key]["value"], r["bf16"][key]["value"],
                     r["f32"][tkey]["value"], r["bf16"][tkey]["value"]))
    print(f"\n{task}: {label} and training seconds per seed")
    print("| seed | f32 | bf16 | bf16 - f32 | f32 s | bf16 s | f32 / bf16 time |")
    print("|---|---|---|---|---|---|---|")
    for s, a, b, ta, tb in rows:
        print(f"| {s} | {a:.4f} | {b:.4f} | {b - a:+.4f} | {ta:.1f} | {tb:.1f} | {ta / tb:.2f} |")
    d = [b - a for _, a, b, _, _ in rows]
    m = sum(d) / len(d)
    if len(d) > 1:
        sd = math.sqrt(sum((x - m) ** 2 for x in d) / (len(d) - 1))
        h = T[min(len(d) - 2, len(T) - 1)] * sd / math.sqrt(len(d))
        lo, hi = m - h, m + h
        if lo > 0 or hi < 0:
            verdict = "bf16 " + ("better" if (m > 0) == (better > 0) else "worse") + " than f32"
        else:
            verdict = "no measurable difference"
        print(f"mean bf16 - f32: {m:+.4f}, 95% t interval [{lo:+.4f}, {hi:+.4f}] over {len(d)} seeds: {verdict}")
    else:
        print(f"bf16 - f32: {m:+.4f} (one seed: no interval)")
    sp = sum(ta / tb for _, _, _, ta, tb in rows) / len(rows)
    print(f"mean training-time ratio f32 / bf16: {sp:.2f}")
EOF
