#!/bin/sh
# mpi_run.sh NP PROGRAM [ARGS...]: runs PROGRAM as NP MPI ranks on this
# machine (oversubscribed: more ranks than cores is fine for correctness
# tests), as root too (CI runs as root). Skips (77) without mpirun.
set -eu
np=$1
shift
command -v mpirun >/dev/null 2>&1 || { echo "mpi_run: no mpirun (apt-get install openmpi-bin)"; exit 77; }
extra=""
[ "$(id -u)" -ne 0 ] || extra="--allow-run-as-root"

exec mpirun $extra --oversubscribe --bind-to none -np "$np" "$@"
