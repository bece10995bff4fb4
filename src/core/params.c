/* params.c: the parameter slab (see params.h). Tensor headers are malloc'd
 * once at declaration and never move; only their data pointers are set when
 * the slab is allocated. */
#include "frugal/params.h"
#include "frugal/status.h"

#include <stdlib.h>
#include <string.h>

void fr_params_init(struct fr_params *p) {
    memset(p, 0, sizeof *p);
}

struct fr_tensor *fr_params_add(struct fr_params *p, const char *name, int ndim, const int64_t *ne,
                                int flags) {
    if (p->allocated) {
        fr_error(FR_EINVAL, "params: cannot add '%s' after allocation", name);
        return NULL;
    }
    if (strlen(name) >= sizeof p->items[0].name) {
        fr_error(FR_EINVAL, "params: name '%s' too long", name);
        return NULL;
    }
    if (fr_params_find(p, name)) {
        fr_error(FR_EINVAL, "params: duplicate name '%s'", name);
        return NULL;
    }
    if (ndim < 1 || ndim > FR_MAX_DIMS) {
        fr_error(FR_EINVAL, "params: '%s' has ndim %d", name, ndim);
        return NULL;
    }
    for (int d = 0; d < ndim; d++)
        if (ne[d] <= 0) {
            fr_error(FR_EINVAL, "params: '%s' has non-positive size %lld", name, (long long)ne[d]);
            return NULL;
        }
    if (p->count == p->cap) {
        int cap = p->cap ? p->cap * 2 : 32;
        struct fr_param *it = realloc(p->items, (size_t)cap * sizeof *it);
        if (!it) {
            fr_error(FR_ENOMEM, "params: out of memory");
            return NULL;
        }
        p->items = it;
        p->cap = cap;
    }
    struct fr_tensor *t = calloc(2, sizeof *t); /* t[1] is the grad header */
    if (!t) {
        fr_error(FR_ENOMEM, "params: out of memory");
        return NULL;
    }
    fr_tensor_set_shape(&t[0], FR_F32, ndim, ne);
    fr_tensor_set_shape(&t[1], FR_F32, ndim, ne);
    struct fr_param *it = &p->items[p->count++];
    memset(it, 0, sizeof *it);
    strcpy(it->name, name);
    it->t = t;
    it->offset = p->n;
    it->flags = flags;
    t->name = it->name;
    t->requires_grad = !(flags & FR_PARAM_BUFFER);
    /* keep each tensor 16-float aligned inside the slab */
    p->n += (fr_nelem(t) + 15) & ~(int64_t)15;
    return t;
}

static float *slab(int64_t n) {
    size_t bytes = ((size_t)n * sizeof(float) + 63) & ~(size_t)63;
    float *a = aligned_alloc(64, bytes ? bytes : 64);
    if (a) memset(a, 0, bytes);
    return a;
}

int fr_params_alloc(struct fr_params *p) {
    if (p->allocated) return 0;
    p->data = slab(p->n);
    p->grad = slab(p->n);
    if (!p->data || !p->grad)
        return fr_error(FR_ENOMEM, "params: out of memory for %lld floats", (long long)p->n);
    for (int i = 0; i < p->count; i++) {
        struct fr_tensor *t = p->items[i].t;
        t->data = p->data + p->items[i].offset;
        t[1].data = p->grad + p->items[i].offset;
        t->grad = t->requires_grad ? &t[1] : NULL;
    }
    p->allocated = 1;
    return 0;
}

void fr_params_free(struct fr_params *p) {
    if (!p) return;
    for (int i = 0; i < p->count; i++)
        free(p->items[i].t);
    free(p->items);
    free(p->data);
    free(p->grad);
    free(p->mask);
    memset(p, 0, sizeof *p);
}

struct fr_param *fr_params_find(const struct fr_params *p, const char *name) {
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->items[i].name, name) == 0) return &p->items[i];
    return NULL;
}

void fr_params_zero_grad(struct fr_params *p) {
    if (p->grad) memset(p->grad, 0, (size_t)p->n * sizeof(float));
}

int64_t fr_params_count_trainable(const struct fr_params *p) {
    int64_t n = 0;
    for (int i = 0; i < p->count; i++)
        if (!(p->items[i].flags & FR_PARAM_BUFFER)) n += fr_nelem(p->items[i].t);
    return n;
}

int fr_params_mask_init(struct fr_params *p) {
    if (p->mask) return 0;
    p->mask = slab(p->n);
    if (!p->mask) return fr_error(FR_ENOMEM, "params: out of memory for mask");
    for (int64_t i = 0; i < p->n; i++)
        p->mask[i] = 1.0f;
    return 0;
}

void fr_params_apply_mask(struct fr_params *p) {
    if (!p->mask) return;
    for (int64_t i = 0; i < p->n; i++) {
        p->data[i] *= p->mask[i];
        p->grad[i] *= p->mask[i];
    }
}

int fr_params_copy(struct fr_params *dst, const struct fr_params *src) {
    if (dst->n != src->n || dst->count != src->count)
        return fr_error(FR_EINVAL, "params: copy between different layouts");
    memcpy(dst->data, src->data, (size_t)src->n * sizeof(float));
    return 0;
}
