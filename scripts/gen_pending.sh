#!/bin/sh
# Temporary during bring-up: lists ops in ops.def with no implementation yet.
cd "$(dirname "$0")/.."
for n in $(sed -n 's/^FR_OP([A-Z_0-9]*, *\([a-z_0-9]*\))/\1/p' src/autograd/ops.def); do
  grep -qE "fr_op_${n}_forward|_OP\(${n}," $(ls src/autograd/op_*.c | grep -v op_pending) 2>/dev/null || echo $n
done
