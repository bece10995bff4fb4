/* op_util.c: shape checks and broadcasting helpers shared by op files
 * (compiled once). */
#include "op.h"

#include <stdatomic.h>

static atomic_int g_ref_mode;

void fr_set_reference_mode(int on) {
    atomic_store(&g_ref_mode, on);
}

int fr_reference_mode(void) {
    return atomic_load_explicit(&g_ref_mode, memory_order_relaxed);
}

int fr_op_check_float(const char *who, struct fr_tensor *a, struct fr_tensor *b,
                      struct fr_tensor *c) {
    struct fr_tensor *in[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        if (!in[i]) continue;
        if (in[i]->dtype != FR_F32 && in[i]->dtype != FR_F64)
            return fr_error(FR_EINVAL, "%s: input %d has dtype %s, expected F32 or F64", who, i,
                            fr_dtype_name(in[i]->dtype));
        if (in[i]->dtype != in[0]->dtype)
            return fr_error(FR_EINVAL, "%s: inputs mix dtypes %s and %s", who,
                            fr_dtype_name(in[0]->dtype), fr_dtype_name(in[i]->dtype));
    }
    return 0;
}

int fr_op_broadcast_shape(const char *who, const struct fr_tensor *a, const struct fr_tensor *b,
                          int *ndim, int64_t *ne) {
    *ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int d = 0; d < FR_MAX_DIMS; d++) {
        int64_t x = a->ne[d], y = b->ne[d];
        if (x != y && x != 1 && y != 1) {
            char s1[64], s2[64];
            return fr_error(FR_EINVAL, "%s: shapes %s and %s do not broadcast", who,
                            fr_shape_str(a, s1, sizeof s1), fr_shape_str(b, s2, sizeof s2));
        }
        ne[d] = x == 1 ? y : x;
    }
    return 0;
}

void fr_op_broadcast_strides(const struct fr_tensor *t, const int64_t *ne, size_t elsize,
                             int use_contiguous, size_t *nb) {
    size_t s = elsize;
    for (int d = 0; d < FR_MAX_DIMS; d++) {
        size_t own = use_contiguous ? s : t->nb[d];
        nb[d] = (t->ne[d] == 1 && ne[d] != 1) ? 0 : own;
        s *= (size_t)t->ne[d];
    }
}
