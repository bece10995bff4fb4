#!/bin/sh
# install-deps.sh: installs the Debian packages frugal needs, only those
# missing. Runs apt-get update once, and only when something is missing.
#
# Usage: scripts/install-deps.sh              what build, demo and tests need
#        scripts/install-deps.sh --with-peers  also the benchmark peers and
#                                              tools: PyTorch, OpenBLAS,
#                                              clang (fuzzing), time
# (`make bench-deps` runs the second form.)
set -e
PKGS="build-essential cmake pkg-config zlib1g-dev libcjson-dev dataset-fashion-mnist"
# tests: numpy for the llama2.c exporter check, clang-format for the format check
PKGS="$PKGS python3-numpy clang-format"
# scale-out: Open MPI (mpirun and the headers; frugal builds without it too)
PKGS="$PKGS openmpi-bin libopenmpi-dev"
if [ "${1:-}" = "--with-peers" ]; then
  PKGS="$PKGS python3-torch libopenblas-dev clang time"
elif [ -n "${1:-}" ]; then
  echo "install-deps: unknown option '$1' (use --with-peers or nothing)" >&2
  exit 2
fi
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  exit 0
fi
echo "install-deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
