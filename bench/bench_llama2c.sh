#!/bin/sh
# bench_llama2c.sh: decode speed against llama2.c's run.c, the same model
# file in both. Builds run.c from a llama2.c checkout (the peer is not a
# Debian package: clone https://github.com/karpathy/llama2.c and pass its
# directory) with its README's fastest flags (-Ofast -fopenmp
# -march=native), writes a random-weight checkpoint in llama2.c's format
# with stories15M's shape (dim 288, 6 layers, 6 heads, hidden 768, vocab
# 32000, context 256; python3-numpy) and a placeholder tokenizer, and
# generates 256 tokens from BOS at temperature 1 with each, REPS times
# interleaved, both on THREADS threads (OMP_NUM_THREADS for run.c,
# --threads for frugal). Prints each run's tokens/s (run.c's own
# "achieved tok/s", frugal's --stats line) and the medians' ratio.
#
# Usage: bench/bench_llama2c.sh LLAMA2C_DIR [FRUGAL_BIN (build/frugal)] [REPS (5)]
#   env: THREADS (2), PYTHON (/usr/bin/python3), CC (gcc)
set -eu
cd "$(dirname "$0")/.."
SRC=${1:?usage: bench_llama2c.sh LLAMA2C_DIR [FRUGAL_BIN] [REPS]}
BIN=${2:-build/frugal}
REPS=${3:-5}
THREADS=${THREADS:-2}
PYTHON=${PYTHON:-/usr/bin/python3}
CC=${CC:-gcc}
[ -f "$SRC/run.c" ] || { echo "bench_llama2c: no run.c in $SRC" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$CC -Ofast -fopenmp -march=native "$SRC/run.c" -lm -o "$tmp/run"
"$PYTHON" - "$tmp" <<'EOF'
import numpy as np, struct, sys
d = sys.argv[1]
dim, hidden, layers, heads, kv, vocab, seq = 288, 768, 6, 6, 6, 32000, 256
rng = np.random.default_rng(1)
def w(*shape):
    return (rng.standard_normal(shape) * 0.02).astype(np.float32)
hs = dim // heads
with open(f"{d}/model.bin", "wb") as f:
    f.write(struct.pack("7i", dim, hidden, layers, heads, kv, vocab, seq))
    for a in [w(vocab, dim), np.ones((layers, dim), np.float32), w(layers, dim, dim),
              w(layers, dim, dim), w(layers, dim, dim), w(layers, dim, dim),
              np.ones((layers, dim), np.float32), w(layers, hidden, dim), w(layers, dim, hidden),
              w(layers, hidden, dim), np.ones(dim, np.float32),
              np.zeros((seq, hs // 2), np.float32), np.zeros((seq, hs // 2), np.float32)]:
        f.write(a.tobytes())
with open(f"{d}/tok.bin", "wb") as f:
    f.write(struct.pack("i", 16))
    for i in range(vocab):
        s = (b"<s>" if i == 1 else b"</s>" if i == 2 else b" t%d" % i)
        f.write(struct.pack("fi", 0.0, len(s)) + s)
EOF
"$BIN" version | sed -n '3p'
echo "| run | llama2.c run.c tok/s | frugal tok/s |"
echo "|---|---|---|"
: >"$tmp/l"
: >"$tmp/f"
r=1
while [ $r -le "$REPS" ]; do
    l=$(OMP_NUM_THREADS=$THREADS "$tmp/run" "$tmp/model.bin" -z "$tmp/tok.bin" -n 256 -t 1.0 -s $r 2>&1 >/dev/null |
        sed -n 's/^achieved tok\/s: *\([0-9.]*\).*/\1/p')
    f=$("$BIN" generate --model "$tmp/model.bin" --ids --steps 255 --seed $r --threads "$THREADS" --stats 2>&1 >/dev/null |
        sed -n 's/.*decode \([0-9.]*\) tok\/s.*/\1/p' | head -1)
    echo "| $r | $l | $f |"
    echo "$l" >>"$tmp/l"
    echo "$f" >>"$tmp/f"
    r=$((r + 1))
done
"$PYTHON" - "$tmp/l" "$tmp/f" <<'EOF'
import statistics, sys
l = [float(x) for x in open(sys.argv[1]) if x.strip()]
f = [float(x) for x in open(sys.argv[2]) if x.strip()]
ml, mf = statistics.median(l), statistics.median(f)
print(f"medians: llama2.c {ml:.1f} tok/s, frugal {mf:.1f} tok/s, frugal / llama2.c {mf / ml:.2f}")
EOF
