/* optim.c: SGD and AdamW on a parameter slab, and global-norm clipping.
 *
 * The update is a serial loop per parameter in slab order, so it is
 * deterministic and bit-reproducible across runs (resume depends on it).
 * Hyper-parameters are combined in double and applied in float, as
 * torch.optim does for float32 tensors (its scalars are Python floats).
 * The optimizer touches only [offset, offset + nelem) of each parameter;
 * the alignment padding between parameters stays zero.
 */
#include "frugal/optim.h"
#include "frugal/status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void fr_optim_config_defaults(struct fr_optim_config *c, enum fr_opt_kind kind) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
    if (kind == FR_OPT_ADAMW) {
        c->lr = 1e-3;
        c->weight_decay = 1e-2;
    } else {
        c->lr = 0.1;
    }
}

int fr_optim_parse(const char *name) {
    if (!name) return -1;
    if (strcmp(name, "sgd") == 0) return FR_OPT_SGD;
    if (strcmp(name, "adamw") == 0) return FR_OPT_ADAMW;
    return -1;
}

static float *state_slab(int64_t n) {
    size_t bytes = ((size_t)n * sizeof(float) + 63) & ~(size_t)63;
    float *a = aligned_alloc(64, bytes ? bytes : 64);
    if (a) memset(a, 0, bytes ? bytes : 64);
    return a;
}

int fr_optim_init(struct fr_optim *o, struct fr_params *p, const struct fr_optim_config *c) {
    memset(o, 0, sizeof *o);
    if (!p || !p->allocated) return fr_error(FR_EINVAL, "optim: parameter slab not allocated");
    if (c->kind != FR_OPT_SGD && c->kind != FR_OPT_ADAMW)
        return fr_error(FR_EINVAL, "optim: unknown optimizer kind %d", (int)c->kind);
    if (!(c->lr >= 0) || !(c->weight_decay >= 0) || !(c->momentum >= 0) || c->momentum >= 1)
        return fr_error(FR_EINVAL, "optim: bad lr %g / weight decay %g / momentum %g", c->lr,
                        c->weight_decay, c->momentum);
    if (c->nesterov && c->kind == FR_OPT_SGD && c->momentum <= 0)
        return fr_error(FR_EINVAL, "optim: Nesterov momentum requires momentum > 0");
    if (c->kind == FR_OPT_ADAMW &&
        (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1) || !(c->eps > 0)))
        return fr_error(FR_EINVAL, "optim: bad AdamW betas (%g, %g) or eps %g", c->beta1, c->beta2,
                        c->eps);
    o->cfg = *c;
    o->p = p;
    int need_m = c->kind == FR_OPT_ADAMW || c->momentum > 0;
    if (need_m && !(o->m = state_slab(p->n))) goto oom;
    if (c->kind == FR_OPT_ADAMW && !(o->v = state_slab(p->n))) goto oom;
    return 0;
oom:
    fr_optim_free(o);
    return fr_error(FR_ENOMEM, "optim: out of memory for %lld-float state", (long long)p->n);
}

void fr_optim_free(struct fr_optim *o) {
    if (!o) return;
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

/* SGD over n entries: g += wd*w; buf = mu*buf + g; g = nesterov ? g + mu*buf : buf;
 * w -= lr*g (torch.optim.SGD, dampening 0, buf starting at 0). */
static void sgd_range(float *restrict w, const float *restrict gr, float *restrict buf, int64_t n,
                      float lr, float wd, float mu, int nesterov) {
    if (!buf) {
        for (int64_t i = 0; i < n; i++)
            w[i] -= lr * (gr[i] + wd * w[i]);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float g = gr[i] + wd * w[i];
        float b = mu * buf[i] + g;
        buf[i] = b;
        w[i] -= lr * (nesterov ? g + mu * b : b);
    }
}

/* AdamW over n entries (torch.optim.AdamW, amsgrad off). */
static void adamw_range(float *restrict w, const float *restrict gr, float *restrict m,
                        float *restrict v, int64_t n, float decay, float b1, float b2,
                        float step_size, float sqrt_bc2, float eps) {
    for (int64_t i = 0; i < n; i++) {
        float g = gr[i];
        float mi = b1 * m[i] + (1.0f - b1) * g;
        float vi = b2 * v[i] + (1.0f - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i] * decay - step_size * (mi / (sqrtf(vi) / sqrt_bc2 + eps));
    }
}

static void mask_range(float *restrict a, const float *restrict mask, int64_t n) {
    if (!a) return;
    for (int64_t i = 0; i < n; i++)
        if (mask[i] == 0.0f) a[i] = 0.0f;
}

void fr_optim_step(struct fr_optim *o, double lr) {
    const struct fr_optim_config *c = &o->cfg;
    struct fr_params *p = o->p;
    if (lr < 0) lr = c->lr;
    int64_t t = o->step + 1, tb = o->seen + t;
    double bc1 = 1.0 - pow(c->beta1, (double)tb), bc2 = 1.0 - pow(c->beta2, (double)tb);
    for (int k = 0; k < p->count; k++) {
        const struct fr_param *it = &p->items[k];
        if (it->flags & FR_PARAM_BUFFER) continue;
        int64_t off = it->offset, n = fr_nelem(it->t);
        double wd = (it->flags & FR_PARAM_NO_DECAY) && !c->decay_all ? 0.0 : c->weight_decay;
        float *w = p->data + off, *g = p->grad + off;
        float *m = o->m ? o->m + off : NULL, *v = o->v ? o->v + off : NULL;
        if (p->mask) mask_range(g, p->mask + off, n);
        if (c->kind == FR_OPT_SGD)
            sgd_range(w, g, m, n, (float)lr, (float)wd, (float)c->momentum, c->nesterov);
        else
            adamw_range(w, g, m, v, n, (float)(1.0 - lr * wd), (float)c->beta1, (float)c->beta2,
                        (float)(lr / bc1), (float)sqrt(bc2), (float)c->eps);
        if (p->mask) {
            mask_range(w, p->mask + off, n);
            mask_range(m, p->mask + off, n);
            mask_range(v, p->mask + off, n);
        }
    }
    o->step = t;
}

double fr_clip_grad_norm(struct fr_params *p, double max_norm) {
    double ss = 0;
    for (int k = 0; k < p->count; k++) {
        const struct fr_param *it = &p->items[k];
        if (it->flags & FR_PARAM_BUFFER) continue;
        const float *g = p->grad + it->offset, *m = p->mask ? p->mask + it->offset : NULL;
        for (int64_t i = 0, n = fr_nelem(it->t); i < n; i++)
            if (!m || m[i] != 0.0f) ss += (double)g[i] * g[i];
    }
    double norm = sqrt(ss);
    if (max_norm > 0 && norm > max_norm) {
        float f = (float)(max_norm / (norm + 1e-6));
        for (int k = 0; k < p->count; k++) {
            const struct fr_param *it = &p->items[k];
            if (it->flags & FR_PARAM_BUFFER) continue;
            float *g = p->grad + it->offset;
            for (int64_t i = 0, n = fr_nelem(it->t); i < n; i++)
                g[i] *= f;
        }
    }
    return norm;
}
