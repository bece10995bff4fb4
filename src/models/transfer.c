/* transfer.c: moving a pretrained body into a model with a new task head.
 * Matching is by parameter name and shape only, so it works across class
 * counts and drops parameters that exist only for pretraining objectives. */
#include "zoo.h"

#include <string.h>

static int is_head(const char *head, const char *name) {
    size_t n = strlen(head);
    return n && strncmp(name, head, n) == 0 && name[n] == '.';
}

int fr_model_transfer(struct fr_model *dst, const struct fr_model *src) {
    const char *head = fr_model_head(dst);
    int copied = 0;
    if (src->params.mask && fr_params_mask_init(&dst->params)) return FR_ENOMEM;
    for (int i = 0; i < dst->params.count; i++) {
        struct fr_param *d = &dst->params.items[i];
        const struct fr_param *s = fr_params_find(&src->params, d->name);
        if (!s || is_head(head, d->name) || s->t->ndim != d->t->ndim) continue;
        int same = 1;
        for (int k = 0; k < d->t->ndim; k++)
            same &= s->t->ne[k] == d->t->ne[k];
        if (!same) continue;
        int64_t n = fr_nelem(d->t);
        memcpy(dst->params.data + d->offset, src->params.data + s->offset,
               (size_t)n * sizeof(float));
        if (src->params.mask)
            memcpy(dst->params.mask + d->offset, src->params.mask + s->offset,
                   (size_t)n * sizeof(float));
        copied++;
    }
    if (!copied)
        return fr_error(FR_EINVAL, "transfer: no tensor of '%s' matches '%s'", src->arch,
                        dst->arch);
    return copied;
}
