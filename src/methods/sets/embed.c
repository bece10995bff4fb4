/* embed.c: the DeepSets layers over autograd ops: LP and LE embeddings,
 * masked pooling, the MLP phi, and the invariant / equivariant model with
 * its input normaliser (see sets.h).
 *
 * Everything is composed from public ops, so backward rules, fast paths and
 * the F64 reference path come from the op layer; this file holds no
 * gradient code. Padded slots are removed with fr_where (not a multiply by
 * the mask), so an overflowing exp in a padded slot cannot turn into
 * inf * 0 = NaN. It does not train: the caller owns the loop and optimizer.
 */
#include "frugal/methods/sets.h"
#include "frugal/status.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int fr_sets_phi_parse(const char *s) {
    if (!s) return -1;
    if (!strcmp(s, "lp")) return FR_SETS_LP;
    if (!strcmp(s, "le")) return FR_SETS_LE;
    if (!strcmp(s, "mlp")) return FR_SETS_MLP;
    return -1;
}

int fr_sets_pool_parse(const char *s) {
    if (!s) return -1;
    if (!strcmp(s, "sum")) return FR_SETS_SUM;
    if (!strcmp(s, "mean")) return FR_SETS_MEAN;
    if (!strcmp(s, "max")) return FR_SETS_MAX;
    return -1;
}

const char *fr_sets_phi_name(enum fr_sets_phi k) {
    switch (k) {
    case FR_SETS_LP:
        return "LP";
    case FR_SETS_LE:
        return "LE";
    case FR_SETS_MLP:
        return "MLP";
    }
    return "?";
}

/* x {D, N, B} or {D, M} -> 2-D view {D, N*B}; sets *n1, *n2 for the way back. */
static fr_t *flat2(struct fr_ctx *ctx, fr_t *x, int64_t *n1, int64_t *n2) {
    *n1 = x->ne[1];
    *n2 = x->ndim >= 3 ? x->ne[2] : 1;
    if (x->ndim > 3 && x->ne[3] != 1) {
        fr_error(FR_EINVAL, "sets: input must be {D, N, B}, got 4 dims");
        return NULL;
    }
    return fr_reshape2(ctx, x, x->ne[0], *n1 * *n2);
}

static fr_t *unflat(struct fr_ctx *ctx, fr_t *y, int64_t n1, int64_t n2) {
    if (!y) return NULL;
    return fr_reshape(ctx, y, 3, (int64_t[]){y->ne[0], n1, n2});
}

static int check_xw(const char *what, fr_t *x, fr_t *w) {
    if (!x || !w) return FR_EINVAL; /* NULL passes through with the earlier message */
    if (x->ndim < 2 || w->ndim != 2 || w->ne[0] != x->ne[0])
        return fr_error(FR_EINVAL, "%s: x must be {D, N, B} and w {D, K} with equal D", what);
    if (x->dtype != w->dtype || (x->dtype != FR_F32 && x->dtype != FR_F64))
        return fr_error(FR_EINVAL, "%s: x and w must share a float dtype", what);
    return 0;
}

fr_t *fr_sets_lp(struct fr_ctx *ctx, fr_t *x, fr_t *w, int64_t deg) {
    if (check_xw("sets_lp", x, w)) return NULL;
    if (deg < 1 || deg > 64) {
        fr_error(FR_EINVAL, "sets_lp: degree %lld must be in 1..64", (long long)deg);
        return NULL;
    }
    int64_t n1, n2;
    fr_t *z = fr_linear(ctx, flat2(ctx, x, &n1, &n2), w, NULL); /* {K, M} */
    fr_t *out = z;
    for (int64_t j = 2; j <= deg && out; j++)
        out = fr_concat(ctx, out, fr_pow(ctx, z, (float)j), 0);
    return unflat(ctx, out, n1, n2);
}

fr_t *fr_sets_le(struct fr_ctx *ctx, fr_t *x, fr_t *v) {
    if (check_xw("sets_le", x, v)) return NULL;
    int64_t n1, n2;
    fr_t *z = fr_linear(ctx, flat2(ctx, x, &n1, &n2), v, NULL);
    return unflat(ctx, fr_exp(ctx, z), n1, n2);
}

fr_t *fr_sets_pool(struct fr_ctx *ctx, fr_t *phi, fr_t *mask, enum fr_sets_pool kind) {
    if (!phi) return NULL;
    if (phi->ndim < 2 || (phi->ndim == 4 && phi->ne[3] != 1)) {
        fr_error(FR_EINVAL, "sets_pool: phi must be {L, N, B}");
        return NULL;
    }
    int64_t L = phi->ne[0], N = phi->ne[1], B = phi->ndim >= 3 ? phi->ne[2] : 1;
    if (kind < FR_SETS_SUM || kind > FR_SETS_MAX) {
        fr_error(FR_EINVAL, "sets_pool: unknown pooling %d", (int)kind);
        return NULL;
    }
    if (mask && (mask->ne[0] != 1 || mask->ne[1] != N || (mask->ndim >= 3 ? mask->ne[2] : 1) != B ||
                 mask->dtype != phi->dtype)) {
        fr_error(FR_EINVAL, "sets_pool: mask must be {1, N, B} = {1, %lld, %lld} of phi's dtype",
                 (long long)N, (long long)B);
        return NULL;
    }
    phi = fr_reshape(ctx, phi, 3, (int64_t[]){L, N, B});
    fr_t *m = mask ? fr_reshape(ctx, mask, 3, (int64_t[]){1, N, B}) : NULL;
    fr_t *r;
    if (kind == FR_SETS_MAX) {
        fr_t *low = fr_zeros(ctx, phi->dtype, 1, (int64_t[]){1});
        if (low) fr_set(low, 0, -1e30);
        fr_t *v = m ? fr_where(ctx, m, phi, low) : phi;
        r = fr_max(ctx, v, 1);
        if (m) { /* an empty set pools to 0, not -1e30 */
            fr_t *cnt = fr_sum(ctx, m, 1);
            r = fr_where(ctx, cnt, r, fr_zeros(ctx, phi->dtype, 1, (int64_t[]){1}));
        }
    } else {
        fr_t *v = m ? fr_where(ctx, m, phi, fr_zeros(ctx, phi->dtype, 1, (int64_t[]){1})) : phi;
        r = fr_sum(ctx, v, 1);
        if (kind == FR_SETS_MEAN) {
            fr_t *cnt = m ? fr_clamp(ctx, fr_sum(ctx, m, 1), 1.0f, 1e30f) : NULL;
            r = m ? fr_div(ctx, r, cnt) : fr_scale(ctx, r, 1.0f / (float)N);
        }
    }
    return r ? fr_reshape2(ctx, r, L, B) : NULL;
}

/* ---- phi over a slab ---- */

int fr_sets_embed_declare(struct fr_params *p, struct fr_sets_embed *e, const char *prefix,
                          enum fr_sets_phi kind, int64_t d, int64_t width, int64_t deg,
                          int64_t hidden) {
    memset(e, 0, sizeof *e);
    if (d < 1 || width < 1 || (kind == FR_SETS_LP && (deg < 1 || deg > 64)))
        return fr_error(FR_EINVAL,
                        "sets embed '%s': d %lld, width %lld, degree %lld must be >= 1 "
                        "(degree <= 64)",
                        prefix, (long long)d, (long long)width, (long long)deg);
    e->kind = kind;
    e->d = d;
    e->k = width;
    e->deg = kind == FR_SETS_LP ? deg : 1;
    e->l = width * e->deg;
    char name[128];
    switch (kind) {
    case FR_SETS_LP:
    case FR_SETS_LE:
        if (snprintf(name, sizeof name, "%s.weight", prefix) >= (int)sizeof name)
            return fr_error(FR_EINVAL, "sets embed: prefix '%s' too long", prefix);
        e->w = fr_params_add(p, name, 2, (int64_t[]){d, width}, FR_PARAM_NO_DECAY);
        return e->w ? 0 : FR_EINVAL;
    case FR_SETS_MLP: {
        if (hidden < 1)
            return fr_error(FR_EINVAL, "sets embed '%s': hidden width must be >= 1", prefix);
        char n0[128], n2[128];
        snprintf(n0, sizeof n0, "%s.0", prefix);
        snprintf(n2, sizeof n2, "%s.2", prefix);
        int rc = fr_linear_declare(p, &e->fc1, n0, d, hidden, 1);
        return rc ? rc : fr_linear_declare(p, &e->fc2, n2, hidden, width, 1);
    }
    }
    return fr_error(FR_EINVAL, "sets embed '%s': unknown phi kind %d", prefix, (int)kind);
}

void fr_sets_embed_init(struct fr_sets_embed *e, double le_scale, struct fr_rng *rng) {
    float *w = e->w ? (float *)e->w->data : NULL;
    if (e->kind == FR_SETS_LP) {
        for (int64_t k = 0; k < e->k; k++) { /* unit-norm Gaussian directions */
            double s = 0;
            for (int64_t i = 0; i < e->d; i++) {
                double g = fr_rng_normal(rng);
                w[k * e->d + i] = (float)g;
                s += g * g;
            }
            s = s > 0 ? 1.0 / sqrt(s) : 1.0;
            for (int64_t i = 0; i < e->d; i++)
                w[k * e->d + i] *= (float)s;
        }
    } else if (e->kind == FR_SETS_LE) {
        double sd = le_scale / sqrt((double)e->d);
        for (int64_t i = 0; i < e->k * e->d; i++)
            w[i] = (float)(sd * fr_rng_normal(rng));
    } else {
        fr_linear_init(&e->fc1, rng);
        fr_linear_init(&e->fc2, rng);
    }
}

fr_t *fr_sets_embed_forward(struct fr_ctx *ctx, const struct fr_sets_embed *e, fr_t *x) {
    if (!x) return NULL;
    switch (e->kind) {
    case FR_SETS_LP:
        return fr_sets_lp(ctx, x, e->w, e->deg);
    case FR_SETS_LE:
        return fr_sets_le(ctx, x, e->w);
    case FR_SETS_MLP: {
        int64_t n1, n2;
        fr_t *h = fr_relu(ctx, fr_linear_forward(ctx, &e->fc1, flat2(ctx, x, &n1, &n2)));
        return unflat(ctx, fr_linear_forward(ctx, &e->fc2, h), n1, n2);
    }
    }
    fr_error(FR_EINVAL, "sets embed: unknown phi kind %d", (int)e->kind);
    return NULL;
}

/* ---- the model ---- */

void fr_sets_config_defaults(struct fr_sets_config *c, enum fr_sets_phi phi, int64_t d, int64_t n,
                             int64_t out) {
    memset(c, 0, sizeof *c);
    c->phi = phi;
    c->pool = FR_SETS_SUM;
    c->d = d;
    c->n = n;
    c->width = phi == FR_SETS_LP ? d + 1 : n * (d + 1);
    c->phi_hidden = 64;
    c->rho_hidden = 64;
    c->rho_layers = 2;
    c->out = out;
    c->le_scale = 1.0;
}

void fr_sets_model_free(struct fr_sets_model *m) {
    if (!m) return;
    fr_params_free(&m->params);
    memset(m, 0, sizeof *m);
}

int fr_sets_model_init(struct fr_sets_model *m, const struct fr_sets_config *c,
                       struct fr_rng *rng) {
    memset(m, 0, sizeof *m);
    fr_params_init(&m->params);
    int rc = 0;
    if (c->d < 1 || c->n < 1 || c->n > 64 || c->width < 1 || c->out < 1 || c->rho_hidden < 1 ||
        c->rho_layers < 1 || c->rho_layers > 3 || c->phi < FR_SETS_LP || c->phi > FR_SETS_MLP ||
        c->pool < FR_SETS_SUM || c->pool > FR_SETS_MAX || !(c->le_scale > 0) || c->lp_deg < 0 ||
        c->lp_deg > 64) {
        rc = fr_error(FR_EINVAL,
                      "sets model: bad config (d %lld, n %lld (1..64), width %lld, out "
                      "%lld, rho %d x %lld, le_scale %g, lp_deg %lld (0..64))",
                      (long long)c->d, (long long)c->n, (long long)c->width, (long long)c->out,
                      c->rho_layers, (long long)c->rho_hidden, c->le_scale, (long long)c->lp_deg);
        goto cleanup;
    }
    m->c = *c;
    if ((rc = fr_sets_embed_declare(&m->params, &m->phi, "phi", c->phi, c->d, c->width,
                                    c->lp_deg ? c->lp_deg : c->n, c->phi_hidden)))
        goto cleanup;
    m->l = m->phi.l;
    int64_t in = m->l + (c->equivariant ? c->d : 0);
    m->nrho = c->rho_layers + 1;
    for (int i = 0; i < m->nrho; i++) {
        char name[32];
        snprintf(name, sizeof name, "rho.%d", 2 * i);
        int64_t out = i == m->nrho - 1 ? c->out : c->rho_hidden;
        if ((rc = fr_linear_declare(&m->params, &m->rho[i], name, in, out, 1))) goto cleanup;
        in = out;
    }
    m->center = fr_params_add(&m->params, "norm.center", 1, (int64_t[]){c->d}, FR_PARAM_BUFFER);
    m->scale = fr_params_add(&m->params, "norm.scale", 1, (int64_t[]){c->d}, FR_PARAM_BUFFER);
    if (!m->center || !m->scale) {
        rc = FR_EINVAL;
        goto cleanup;
    }
    if ((rc = fr_params_alloc(&m->params))) goto cleanup;
    fr_sets_embed_init(&m->phi, c->le_scale, rng);
    for (int i = 0; i < m->nrho; i++)
        fr_linear_init(&m->rho[i], rng);
    fr_init_const(m->scale, 1.0f);
    return 0;
cleanup:
    fr_sets_model_free(m);
    return rc;
}

int fr_sets_model_fit_normaliser(struct fr_sets_model *m, const float *x, const float *mask,
                                 int64_t nsets) {
    int64_t D = m->c.d, N = m->c.n;
    if (!x || nsets < 1) return fr_error(FR_EINVAL, "sets normaliser: no training sets");
    float *c = (float *)m->center->data, *s = (float *)m->scale->data;
    for (int64_t f = 0; f < D; f++) {
        double sum = 0, cnt = 0, amax = 0;
        for (int64_t i = 0; i < nsets * N; i++)
            if (!mask || mask[i] != 0) sum += x[i * D + f], cnt += 1;
        double mu = cnt > 0 ? sum / cnt : 0;
        for (int64_t i = 0; i < nsets * N; i++)
            if (!mask || mask[i] != 0) amax = fmax(amax, fabs(x[i * D + f] - mu));
        c[f] = (float)mu;
        s[f] = amax > 0 ? (float)(1.0 / amax) : 1.0f;
    }
    return 0;
}

fr_t *fr_sets_model_forward(struct fr_ctx *ctx, const struct fr_sets_model *m, fr_t *x,
                            fr_t *mask) {
    if (!x) return NULL;
    const struct fr_sets_config *c = &m->c;
    if (x->dtype != FR_F32 || x->ne[0] != c->d || x->ne[1] > c->n || x->ndim > 3) {
        fr_error(FR_EINVAL, "sets model: x must be F32 {D = %lld, N <= %lld, B}", (long long)c->d,
                 (long long)c->n);
        return NULL;
    }
    int64_t N = x->ne[1], B = x->ndim >= 3 ? x->ne[2] : 1;
    fr_t *xn = fr_mul(ctx, fr_sub(ctx, x, m->center), m->scale);
    if (mask && xn) /* padded slots become 0 before phi sees them */
        xn = fr_where(ctx, mask, xn, fr_zeros(ctx, FR_F32, 1, (int64_t[]){1}));
    fr_t *pooled = fr_sets_pool(ctx, fr_sets_embed_forward(ctx, &m->phi, xn), mask, c->pool);
    if (c->pool == FR_SETS_SUM) pooled = fr_scale(ctx, pooled, 1.0f / (float)c->n);
    fr_t *h;
    if (c->equivariant) {
        fr_t *p3 = pooled ? fr_reshape(ctx, pooled, 3, (int64_t[]){m->l, 1, B}) : NULL;
        fr_t *pe = p3 ? fr_expand(ctx, p3, 3, (int64_t[]){m->l, N, B}) : NULL;
        fr_t *xr = xn ? fr_reshape(ctx, xn, 3, (int64_t[]){c->d, N, B}) : NULL;
        h = fr_concat(ctx, xr, pe, 0);
        h = h ? fr_reshape2(ctx, h, c->d + m->l, N * B) : NULL;
    } else {
        h = pooled;
    }
    for (int i = 0; i < m->nrho; i++) {
        h = fr_linear_forward(ctx, &m->rho[i], h);
        if (i < m->nrho - 1) h = fr_relu(ctx, h);
    }
    if (c->equivariant && h) h = fr_reshape(ctx, h, 3, (int64_t[]){c->out, N, B});
    return h;
}

void fr_sets_complex_split(const double *z, int64_t nelem, int64_t dc, double *out) {
    for (int64_t e = 0; e < nelem; e++)
        for (int64_t f = 0; f < dc; f++) {
            out[e * 2 * dc + f] = z[(e * dc + f) * 2];
            out[e * 2 * dc + dc + f] = z[(e * dc + f) * 2 + 1];
        }
}
