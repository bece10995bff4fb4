#!/bin/sh
# mpi_run.sh NP PROGRAM [ARGS...]: runs PROGRAM as NP MPI ranks on this
# machine (oversubscribed: more ranks than cores is fine for correctness
# tests), as root too (CI runs as root). Skips (77) without mpirun. The
# ranks are started locally by the "isolated" launcher, so no ssh client
# is needed (openmpi-bin only recommends one).
set -eu
np=$1
shift
command -v mpirun >/dev/null 2>&1 || { echo "mpi_run: no mpirun (apt-get install openmpi-bin)"; exit 77; }
extra=""
[ "$(id -u)" -ne 0 ] || extra="--allow-run-as-root"

exec mpirun $extra --mca plm isolated --oversubscribe --bind-to none -np "$np" "$@"
