#!/bin/sh
# check-layers.sh [BUILD_DIR]: enforces the layer order of ARCHITECTURE.md.
#
#   core < kernels < io < report < autograd < data < nn < optim < dist
#        < models < train < methods < experiments   (tools/ sits on top)
#
# A file may use its own layer and the layers below it, never one above.
# Two checks:
#   1. includes: every #include "..." in src/ and include/frugal/ is
#      resolved to a file and its layer (public headers by the table below,
#      private ones by their folder); an include that goes up fails. Methods
#      also may not include frugal/report.h: a method returns statistics and
#      writes no files (results and plots are the experiments layer's).
#   2. calls: with BUILD_DIR, every undefined symbol of each library object
#      file (nm) must be defined in the same layer or a lower one, so a call
#      upward fails even when it hides behind a forward declaration.
# A public header not in the table fails too: a new header is given a layer
# on purpose. Prints one line per violation; exit 0 when there are none.
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-}

ORDER="core kernels io report autograd data nn optim dist models train methods experiments"

# Public headers -> layer. frugal.h is the engine's umbrella (it includes up
# to the train layer).
HEADERS='
tensor.h core
status.h core
rng.h core
threads.h core
clock.h core
params.h core
cpu.h core
kernels.h kernels
io.h io
report.h report
ops.h autograd
data.h data
tokenizer.h data
nn.h nn
kv.h nn
optim.h optim
dist.h dist
models.h models
transformer.h models
train.h train
lm.h train
frugal.h train
'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0

# ---- 1. includes ----
{
    find src include/frugal -type f \( -name '*.c' -o -name '*.h' -o -name '*.def' \) | sort
} > "$tmp/files"
while IFS= read -r f; do
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" 2>/dev/null |
        sed 's/^\([0-9]*\):.*include[[:space:]]*"\([^"]*\)".*/\1 \2/' |
        while read -r line inc; do printf '%s %s %s\n' "$f" "$line" "$inc"; done
done < "$tmp/files" > "$tmp/includes"

awk -v order="$ORDER" -v headers="$HEADERS" '
function layer_of(path,    n, parts, h) {
    if (path ~ /^include\/frugal\/methods\//) return "methods"
    if (path ~ /^include\/frugal\/experiments\//) return "experiments"
    if (path ~ /^include\/frugal\//) {
        h = path; sub(/^include\/frugal\//, "", h)
        return (h in hdr) ? hdr[h] : "?"
    }
    if (path ~ /^src\//) { n = split(path, parts, "/"); return parts[2] }
    return "?"
}
function normalize(p,    n, parts, out, i, k) {
    n = split(p, parts, "/"); k = 0
    for (i = 1; i <= n; i++) {
        if (parts[i] == "." || parts[i] == "") continue
        if (parts[i] == "..") { if (k > 0) k--; continue }
        out[++k] = parts[i]
    }
    p = ""
    for (i = 1; i <= k; i++) p = p (i > 1 ? "/" : "") out[i]
    return p
}
BEGIN {
    n = split(order, o, " "); for (i = 1; i <= n; i++) rank[o[i]] = i
    m = split(headers, hl, "\n")
    for (i = 1; i <= m; i++) if (split(hl[i], kv, " ") == 2) hdr[kv[1]] = kv[2]
    bad = 0
}
{
    file = $1; line = $2; inc = $3
    dir = file; sub(/\/[^\/]*$/, "", dir)
    if (inc ~ /^frugal\//) target = "include/" inc
    else target = normalize(dir "/" inc)
    from = layer_of(file); to = layer_of(target)
    if (from == "?") { printf "%s: file has no layer (add it to scripts/check-layers.sh)\n", file; bad = 1; next }
    if (to == "?") { printf "%s:%s: includes %s, which has no layer (add it to scripts/check-layers.sh)\n", file, line, inc; bad = 1; next }
    if (rank[to] > rank[from]) {
        printf "%s:%s: %s layer includes %s from the %s layer above it\n", file, line, from, inc, to; bad = 1
    }
    if (from == "methods" && target == "include/frugal/report.h") {
        printf "%s:%s: a method includes frugal/report.h (methods return statistics; results and plots are written by src/experiments)\n", file, line; bad = 1
    }
}
END { exit bad }
' "$tmp/includes" || fail=1

# every public header has a layer
for h in include/frugal/*.h; do
    b=$(basename "$h")
    printf '%s\n' "$HEADERS" | grep -q "^$b " || { echo "$h: public header has no layer (add it to scripts/check-layers.sh)"; fail=1; }
done

# ---- 2. calls (needs a build) ----
if [ -n "$BUILD" ]; then
    objs=$(find "$BUILD/CMakeFiles" -path '*/frugal.dir/src/*.o' -o -path '*/frugal_ops64.dir/src/*.o' 2>/dev/null | sort)
    if [ -z "$objs" ]; then
        echo "check-layers: no library objects under $BUILD/CMakeFiles (build first)"
        exit 1
    fi
    for o in $objs; do
        layer=$(printf '%s\n' "$o" | sed 's|.*\.dir/src/\([^/]*\)/.*|\1|')
        src=$(printf '%s\n' "$o" | sed 's|.*\.dir/\(src/.*\)\.o$|\1|')
        nm -P "$o" 2>/dev/null | awk -v L="$layer" -v S="$src" '$2 ~ /^[TDBRCVWGS]$/ { print "D", $1, L, S } $2 == "U" { print "U", $1, L, S }'
    done > "$tmp/syms"
    awk -v order="$ORDER" '
    BEGIN { n = split(order, o, " "); for (i = 1; i <= n; i++) rank[o[i]] = i; bad = 0 }
    $1 == "D" { if (!($2 in def) || rank[$3] < rank[def[$2]]) { def[$2] = $3; where[$2] = $4 } next }
    $1 == "U" { use[++nu] = $0 }
    END {
        for (i = 1; i <= nu; i++) {
            split(use[i], u, " ")
            sym = u[2]; L = u[3]; S = u[4]
            if (!(sym in def)) continue   # libc, libm, zlib, cJSON, OpenBLAS
            if (rank[def[sym]] > rank[L]) {
                printf "%s: %s layer calls %s, defined in %s (%s layer above it)\n", S, L, sym, where[sym], def[sym]
                bad = 1
            }
        }
        exit bad
    }' "$tmp/syms" || fail=1
fi

if [ "$fail" -eq 0 ]; then
    echo "check-layers: the layer order holds ($(wc -l < "$tmp/includes") includes${BUILD:+, every library call} checked)"
fi
exit "$fail"
