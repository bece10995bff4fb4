#!/bin/sh
# install-deps.sh: installs the Debian packages frugal needs, only those
# missing. Runs apt-get update once, and only when something is missing.
# Usage: scripts/install-deps.sh [--with-peers]   (peers: PyTorch, numpy for
# reference files and benchmarks; clang for fuzzing)
set -e
PKGS="build-essential cmake pkg-config zlib1g-dev libcjson-dev libopenblas-dev dataset-fashion-mnist"
PKGS="$PKGS python3-numpy python3-torch clang time"
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
