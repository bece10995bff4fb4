#!/bin/sh
# TEMPORARY bring-up helper: rewrites src/autograd/op_pending.c with aborting
# placeholders for ops in ops.def that no op file implements yet. Never commit
# op_pending.c; this script goes away when every op exists.
cd "$(dirname "$0")/.."
tmp=$(mktemp)
{ echo '/* op_pending.c: TEMPORARY bring-up placeholders; never committed. */'; echo '#include "op.h"'; echo '#include <stdlib.h>';
for n in $(scripts/gen_pending.sh); do echo "void FR_FN(fr_op_${n}_forward)(struct fr_ctx *c, fr_t *o) { (void)c; (void)o; abort(); }"; echo "void FR_FN(fr_op_${n}_backward)(struct fr_ctx *c, fr_t *o) { (void)c; (void)o; abort(); }"; done; } > "$tmp"
if [ -z "$(scripts/gen_pending.sh)" ]; then rm -f src/autograd/op_pending.c "$tmp"; else mv "$tmp" src/autograd/op_pending.c; fi
