/* prune.c: scope selection, pruning criteria and the one selection rule
 * (prune.h).
 *
 * Every unstructured criterion becomes a float keep-score per weight; the
 * k lowest are pruned. The k-th lowest is found by a radix select over
 * order-preserving 32-bit keys of the scores (4 histogram passes, O(n), no
 * sort and no data-dependent recursion), then everything below it is pruned
 * and the ties at it are pruned in index order, so the count is exact and
 * the choice deterministic. Already-masked weights score -inf and so are
 * always among the pruned: that is what nests one-shot masks.
 *
 * Deliberately not here: iterative schedules (IMP, ISP) and fine-tuning;
 * they call fr_prune / fr_prune_lowest between training runs.
 */
#include "frugal/methods/prune.h"

#include "frugal/data.h"
#include "frugal/models.h"
#include "frugal/ops.h"
#include "frugal/rng.h"
#include "frugal/status.h"

#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- scope ---------------- */

/* 1 if name matches one glob of the comma list; -1 on an empty pattern. */
static int match_list(const char *list, const char *name) {
    char pat[256];
    const char *s = list;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0 || len >= sizeof pat) return -1;
        memcpy(pat, s, len);
        pat[len] = '\0';
        if (fnmatch(pat, name, 0) == 0) return 1;
        if (!e) return 0;
        s = e + 1;
    }
}

int fr_prune_scope(const struct fr_params *p, const char *include, const char *exclude, int *sel) {
    int any = 0;
    for (int i = 0; i < p->count; i++) {
        const struct fr_param *it = &p->items[i];
        int in;
        if (it->flags & FR_PARAM_BUFFER) {
            in = 0;
        } else if (include && include[0]) {
            if ((in = match_list(include, it->name)) < 0)
                return fr_error(FR_EINVAL, "prune: bad scope pattern '%s' (empty or too long item)",
                                include);
        } else {
            in = (it->flags & FR_PARAM_PRUNABLE) != 0;
        }
        if (in && exclude && exclude[0]) {
            int ex = match_list(exclude, it->name);
            if (ex < 0)
                return fr_error(
                    FR_EINVAL, "prune: bad exclude pattern '%s' (empty or too long item)", exclude);
            in = !ex;
        }
        sel[i] = in;
        any |= in;
    }
    if (!any)
        return fr_error(FR_EINVAL, "prune: scope '%s'%s%s%s selects no tensor",
                        include && include[0] ? include : "(prunable weights)",
                        exclude && exclude[0] ? " minus '" : "",
                        exclude && exclude[0] ? exclude : "", exclude && exclude[0] ? "'" : "");
    return 0;
}

/* ---------------- config ---------------- */

void fr_prune_config_defaults(struct fr_prune_config *c) {
    memset(c, 0, sizeof *c);
    c->method = FR_PRUNE_MAGNITUDE;
    c->sparsity = 0.5;
    c->nm_n = 2;
    c->nm_m = 4;
    c->seed = 1;
    c->grasp_eps = 1e-3;
}

static const char *const METHOD_NAMES[] = {"omp", "random", "nm", "snip", "grasp"};

int fr_prune_method_parse(const char *name) {
    if (!name) return -1;
    if (strcmp(name, "magnitude") == 0) return FR_PRUNE_MAGNITUDE;
    for (int i = 0; i < 5; i++)
        if (strcmp(name, METHOD_NAMES[i]) == 0) return i;
    return -1;
}

const char *fr_prune_method_name(enum fr_prune_method m) {
    return (unsigned)m < 5 ? METHOD_NAMES[m] : "?";
}

int fr_prune_parse_nm(const char *s, int *n, int *m) {
    char *e1, *e2;
    long a = s ? strtol(s, &e1, 10) : 0;
    if (!s || e1 == s || *e1 != ':')
        return fr_error(FR_EINVAL, "prune: N:M pattern '%s' is not of the form N:M", s ? s : "");
    long b = strtol(e1 + 1, &e2, 10);
    if (e2 == e1 + 1 || *e2 || a < 1 || b < a || b > 64)
        return fr_error(FR_EINVAL, "prune: N:M pattern '%s' needs 1 <= N <= M <= 64", s);
    *n = (int)a;
    *m = (int)b;
    return 0;
}

static int check_config(const struct fr_prune_config *c) {
    if ((unsigned)c->method > FR_PRUNE_GRASP)
        return fr_error(FR_EINVAL, "prune: unknown method %d", (int)c->method);
    if (c->method == FR_PRUNE_NM) {
        if (c->nm_n < 1 || c->nm_m < c->nm_n || c->nm_m > 64)
            return fr_error(FR_EINVAL, "prune: N:M %d:%d needs 1 <= N <= M <= 64", c->nm_n,
                            c->nm_m);
        return 0;
    }
    if (!(c->sparsity >= 0 && c->sparsity < 1))
        return fr_error(FR_EINVAL, "prune: sparsity %g must be in [0, 1)", c->sparsity);
    if (c->method == FR_PRUNE_GRASP && !(c->grasp_eps > 0 && isfinite(c->grasp_eps)))
        return fr_error(FR_EINVAL, "prune: grasp_eps %g must be positive", c->grasp_eps);
    return 0;
}

/* ---------------- scores ---------------- */

static int is_masked(const struct fr_params *p, int64_t j) {
    return p->mask && p->mask[j] == 0.0f;
}

/* Runs the caller's loss and checks it. */
static int call_loss(fr_prune_loss_fn loss, void *user, struct fr_params *p) {
    double l = 0;
    int rc = loss(user, p, &l);
    if (rc) return rc;
    if (!isfinite(l)) return fr_error(FR_EINVAL, "prune: the loss on the scoring batch is %g", l);
    return 0;
}

/* GraSP keep-score w * (H g): g from one gradient, H g from the central
 * difference of the gradients at w +- h g (restricted to unmasked scoped
 * weights, as GraSP restricts it to the prunable weights), h chosen so that
 * the step has length eps. */
static int grasp_scores(struct fr_params *p, const int *sel, double eps, fr_prune_loss_fn loss,
                        void *user, const float *w0, float *score) {
    int64_t n = p->n;
    float *v = calloc((size_t)n, sizeof *v), *gp = malloc((size_t)n * sizeof *gp);
    int rc = 0;
    if (!v || !gp) {
        rc = fr_error(FR_ENOMEM, "prune: out of memory for GraSP");
        goto cleanup;
    }
    if ((rc = call_loss(loss, user, p))) goto cleanup;
    double norm = 0;
    for (int i = 0; i < p->count; i++) {
        if (!sel[i]) continue;
        int64_t o = p->items[i].offset, m = fr_nelem(p->items[i].t);
        for (int64_t j = o; j < o + m; j++) {
            v[j] = is_masked(p, j) ? 0.0f : p->grad[j];
            norm += (double)v[j] * v[j];
        }
    }
    norm = sqrt(norm);
    if (!(norm > 0) || !isfinite(norm)) {
        rc = fr_error(FR_EINVAL, "prune: GraSP needs a nonzero finite gradient (norm %g)", norm);
        goto cleanup;
    }
    const double h = eps / norm;
    for (int64_t j = 0; j < n; j++)
        p->data[j] = (float)(w0[j] + h * v[j]);
    if ((rc = call_loss(loss, user, p))) goto cleanup;
    memcpy(gp, p->grad, (size_t)n * sizeof *gp);
    memcpy(p->data, w0, (size_t)n * sizeof *w0);
    for (int64_t j = 0; j < n; j++)
        p->data[j] = (float)(w0[j] - h * v[j]);
    if ((rc = call_loss(loss, user, p))) goto cleanup;
    for (int i = 0; i < p->count; i++) {
        if (!sel[i]) continue;
        int64_t o = p->items[i].offset, m = fr_nelem(p->items[i].t);
        for (int64_t j = o; j < o + m; j++) {
            double hg = ((double)gp[j] - (double)p->grad[j]) / (2 * h);
            score[j] = is_masked(p, j) ? -INFINITY : (float)((double)w0[j] * hg);
        }
    }
cleanup:
    free(v);
    free(gp);
    return rc;
}

int fr_prune_scores(struct fr_params *p, const int *sel, const struct fr_prune_config *c,
                    fr_prune_loss_fn loss, void *user, float *score) {
    int rc = check_config(c);
    if (rc) return rc;
    if (c->method == FR_PRUNE_NM)
        return fr_error(FR_EINVAL, "prune: N:M has no global score (it selects within groups)");
    const int data_driven = c->method == FR_PRUNE_SNIP || c->method == FR_PRUNE_GRASP;
    if (data_driven && !loss)
        return fr_error(FR_EINVAL, "prune: %s needs a loss on a data batch",
                        fr_prune_method_name(c->method));
    float *w0 = NULL;
    if (data_driven) {
        /* the callback may move batch-norm statistics; GraSP moves weights */
        if (!(w0 = malloc((size_t)p->n * sizeof *w0)))
            return fr_error(FR_ENOMEM, "prune: out of memory");
        memcpy(w0, p->data, (size_t)p->n * sizeof *w0);
    }
    struct fr_rng rng;
    fr_rng_seed(&rng, c->seed);
    if (c->method == FR_PRUNE_SNIP && (rc = call_loss(loss, user, p))) goto cleanup;
    if (c->method == FR_PRUNE_GRASP) {
        rc = grasp_scores(p, sel, c->grasp_eps, loss, user, w0, score);
        goto cleanup;
    }
    for (int i = 0; i < p->count; i++) {
        if (!sel[i]) continue;
        int64_t o = p->items[i].offset, m = fr_nelem(p->items[i].t);
        for (int64_t j = o; j < o + m; j++) {
            float s;
            switch (c->method) {
            case FR_PRUNE_RANDOM:
                s = (float)fr_rng_uniform(&rng);
                break;
            case FR_PRUNE_SNIP:
                s = fabsf(w0[j] * p->grad[j]);
                break;
            default:
                s = fabsf(p->data[j]);
                break;
            }
            score[j] = is_masked(p, j) ? -INFINITY : s;
        }
    }
cleanup:
    if (data_driven) {
        memcpy(p->data, w0, (size_t)p->n * sizeof *w0);
        fr_params_zero_grad(p);
    }
    free(w0);
    if (!rc) {
        for (int i = 0; i < p->count && !rc; i++) {
            if (!sel[i]) continue;
            int64_t o = p->items[i].offset, m = fr_nelem(p->items[i].t);
            for (int64_t j = o; j < o + m; j++)
                if (isnan(score[j])) {
                    rc = fr_error(FR_EINVAL, "prune: %s score of '%s' is NaN",
                                  fr_prune_method_name(c->method), p->items[i].name);
                    break;
                }
        }
    }
    return rc;
}

/* ---------------- selection ---------------- */

/* Order-preserving key: a < b as floats iff key(a) < key(b); -0 == +0. */
static uint32_t key_of(float f) {
    f += 0.0f;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

int fr_prune_lowest(const float *score, int64_t n, int64_t k, float *mask) {
    if (k < 0 || k > n)
        return fr_error(FR_EINVAL, "prune: cannot prune %lld of %lld", (long long)k, (long long)n);
    if (k == 0) return 0;
    for (int64_t i = 0; i < n; i++)
        if (isnan(score[i])) return fr_error(FR_EINVAL, "prune: NaN score at %lld", (long long)i);
    /* radix select of the key with 0-based rank r = k - 1 */
    uint32_t prefix = 0, pmask = 0;
    int64_t r = k - 1;
    for (int shift = 24; shift >= 0; shift -= 8) {
        int64_t hist[256] = {0};
        for (int64_t i = 0; i < n; i++) {
            uint32_t u = key_of(score[i]);
            if ((u & pmask) == prefix) hist[(u >> shift) & 255]++;
        }
        int b = 0;
        while (r >= hist[b])
            r -= hist[b++];
        prefix |= (uint32_t)b << shift;
        pmask |= 0xFFu << shift;
    }
    /* prune every key below the threshold and the first r + 1 equal to it */
    int64_t ties = r + 1;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = key_of(score[i]);
        if (u < prefix || (u == prefix && ties-- > 0)) mask[i] = 0.0f;
    }
    return 0;
}

static int64_t target_count(double sparsity, int64_t n) {
    return (int64_t)llround(sparsity * (double)n);
}

/* The largest sparsity with 6 decimals whose target count leaves one of n
 * weights (for the message that refuses one that leaves none). */
static double keeps_one(int64_t n) {
    double s = floor(((double)n - 1) / (double)n * 1e6) / 1e6;
    while (s > 0 && target_count(s, n) >= n)
        s -= 1e-6;
    return s > 0 ? s : 0;
}

/* Global: gathers the scoped scores and masks into contiguous arrays (slab
 * order) so index order is slab order, selects, scatters the mask back. */
static int select_global(struct fr_params *p, const int *sel, const float *score, double sparsity) {
    int64_t N = 0, pre = 0;
    for (int i = 0; i < p->count; i++)
        if (sel[i]) N += fr_nelem(p->items[i].t);
    float *s = malloc((size_t)N * sizeof *s), *m = malloc((size_t)N * sizeof *m);
    int rc = 0;
    if (!s || !m) {
        rc = fr_error(FR_ENOMEM, "prune: out of memory");
        goto cleanup;
    }
    int64_t q = 0;
    for (int i = 0; i < p->count; i++) {
        if (!sel[i]) continue;
        int64_t o = p->items[i].offset, n = fr_nelem(p->items[i].t);
        memcpy(s + q, score + o, (size_t)n * sizeof *s);
        memcpy(m + q, p->mask + o, (size_t)n * sizeof *m);
        for (int64_t j = 0; j < n; j++)
            pre += m[q + j] == 0.0f;
        q += n;
    }
    int64_t k = target_count(sparsity, N);
    if (N > 0 && k >= N) {
        rc = fr_error(FR_EINVAL,
                      "prune: sparsity %.9g rounds to all %lld weights of the scope, which would "
                      "leave none (at most %g keeps one)",
                      sparsity, (long long)N, keeps_one(N));
        goto cleanup;
    }
    if (pre > k) {
        rc = fr_error(FR_EINVAL,
                      "prune: %lld of %lld scoped weights are already pruned, more than the %lld "
                      "that sparsity %g asks for (masks only grow)",
                      (long long)pre, (long long)N, (long long)k, sparsity);
        goto cleanup;
    }
    if ((rc = fr_prune_lowest(s, N, k, m))) goto cleanup;
    q = 0;
    for (int i = 0; i < p->count; i++) {
        if (!sel[i]) continue;
        int64_t o = p->items[i].offset, n = fr_nelem(p->items[i].t);
        memcpy(p->mask + o, m + q, (size_t)n * sizeof *m);
        q += n;
    }
cleanup:
    free(s);
    free(m);
    return rc;
}

static int select_layerwise(struct fr_params *p, const int *sel, const float *score,
                            double sparsity) {
    for (int i = 0; i < p->count; i++) { /* check every tensor before changing any */
        if (!sel[i]) continue;
        int64_t o = p->items[i].offset, n = fr_nelem(p->items[i].t), pre = 0;
        for (int64_t j = o; j < o + n; j++)
            pre += p->mask[j] == 0.0f;
        if (n > 0 && target_count(sparsity, n) >= n)
            return fr_error(FR_EINVAL,
                            "prune: sparsity %.9g rounds to all %lld weights of '%s', which would "
                            "leave none (layer-wise, at most %g keeps one in it)",
                            sparsity, (long long)n, p->items[i].name, keeps_one(n));
        if (pre > target_count(sparsity, n))
            return fr_error(FR_EINVAL,
                            "prune: '%s' already has %lld of %lld weights pruned, more "
                            "than sparsity %g asks for (masks only grow)",
                            p->items[i].name, (long long)pre, (long long)n, sparsity);
    }
    for (int i = 0; i < p->count; i++) {
        if (!sel[i]) continue;
        int64_t o = p->items[i].offset, n = fr_nelem(p->items[i].t);
        int rc = fr_prune_lowest(score + o, n, target_count(sparsity, n), p->mask + o);
        if (rc) return rc;
    }
    return 0;
}

/* Rows of a weight: its outermost dim (output units); a row is everything
 * else, contiguous (a conv filter's cin*kh*kw inputs). */
static int64_t row_len(const struct fr_tensor *t) {
    return t->ndim > 1 ? fr_nelem(t) / t->ne[t->ndim - 1] : fr_nelem(t);
}

static int check_nm(const struct fr_params *p, const int *sel, int N, int M) {
    for (int i = 0; i < p->count; i++)
        if (sel[i] && row_len(p->items[i].t) % M != 0)
            return fr_error(FR_EINVAL,
                            "prune: %d:%d needs rows of a multiple of %d weights but "
                            "'%s' has rows of %lld (leave it out of the scope)",
                            N, M, M, p->items[i].name, (long long)row_len(p->items[i].t));
    return 0;
}

/* In each group of M consecutive weights prune the M - N with the lowest
 * (|w|, index), masked weights counting as lowest. */
static void apply_nm(struct fr_params *p, const int *sel, int N, int M) {
    float s[64];
    for (int i = 0; i < p->count; i++) {
        if (!sel[i]) continue;
        int64_t o = p->items[i].offset, n = fr_nelem(p->items[i].t);
        for (int64_t g = o; g < o + n; g += M) {
            for (int a = 0; a < M; a++)
                s[a] = p->mask[g + a] == 0.0f ? -INFINITY : fabsf(p->data[g + a]);
            for (int a = 0; a < M; a++) {
                int rank = 0;
                for (int b = 0; b < M; b++)
                    rank += s[b] < s[a] || (s[b] == s[a] && b < a);
                if (rank < M - N) p->mask[g + a] = 0.0f;
            }
        }
    }
}

int fr_prune(struct fr_params *p, const int *sel, const struct fr_prune_config *c,
             fr_prune_loss_fn loss, void *user) {
    int rc = check_config(c);
    if (rc) return rc;
    if (!p->allocated) return fr_error(FR_EINVAL, "prune: parameter slab not allocated");
    int any = 0;
    for (int i = 0; i < p->count; i++)
        any |= sel[i] && !(p->items[i].flags & FR_PARAM_BUFFER);
    if (!any) return fr_error(FR_EINVAL, "prune: empty scope");
    if (c->method == FR_PRUNE_NM) {
        if ((rc = check_nm(p, sel, c->nm_n, c->nm_m))) return rc;
        if ((rc = fr_params_mask_init(p))) return rc;
        apply_nm(p, sel, c->nm_n, c->nm_m);
        fr_params_apply_mask(p);
        return 0;
    }
    float *score = malloc((size_t)p->n * sizeof *score);
    float *saved = NULL;
    int had_mask = p->mask != NULL;
    if (!score) return fr_error(FR_ENOMEM, "prune: out of memory for scores");
    if ((rc = fr_prune_scores(p, sel, c, loss, user, score))) goto cleanup;
    if ((rc = fr_params_mask_init(p))) goto cleanup;
    /* selection checks before it writes, but keep a copy to be sure a
     * failure leaves the mask as it was */
    if (!(saved = malloc((size_t)p->n * sizeof *saved))) {
        rc = fr_error(FR_ENOMEM, "prune: out of memory");
        goto cleanup;
    }
    memcpy(saved, p->mask, (size_t)p->n * sizeof *saved);
    rc = c->layerwise ? select_layerwise(p, sel, score, c->sparsity)
                      : select_global(p, sel, score, c->sparsity);
    if (rc) {
        if (had_mask) {
            memcpy(p->mask, saved, (size_t)p->n * sizeof *saved);
        } else {
            free(p->mask);
            p->mask = NULL;
        }
        goto cleanup;
    }
    fr_params_apply_mask(p);
cleanup:
    free(score);
    free(saved);
    return rc;
}

int fr_prune_logits_loss(struct fr_ctx *ctx, struct fr_tensor *logits, struct fr_tensor *y,
                         float temperature, double *loss) {
    struct fr_tensor *z = logits;
    if (z && temperature > 0 && temperature != 1) z = fr_scale(ctx, z, 1.0f / temperature);
    struct fr_tensor *l = z && y ? fr_cross_entropy(ctx, z, y, 0.0f) : NULL;
    int rc = l ? fr_backward(ctx, l) : FR_EINVAL;
    if (!rc) *loss = fr_get(l, 0);
    fr_ctx_reset(ctx);
    return rc;
}

int fr_prune_batch_loss(void *user, struct fr_params *p, double *loss) {
    const struct fr_prune_batch *b = user;
    const struct fr_dataset *ds = b->ds;
    fr_params_zero_grad(p);
    int64_t ne[4] = {ds->W, ds->H, ds->C, ds->n};
    struct fr_tensor *x = fr_wrap(b->ctx, FR_F32, 4, ne, ds->x);
    struct fr_tensor *y = fr_wrap(b->ctx, FR_I32, 1, &ds->n, ds->y);
    struct fr_tensor *z = x && y ? b->m->forward(b->m, b->ctx, x) : NULL;
    return fr_prune_logits_loss(b->ctx, z, y, b->temperature, loss);
}
