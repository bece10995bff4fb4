/* isp.c: Instant Soup Pruning (lottery.h; /work/shared/papers/sparsity.md).
 *
 * A round: m trains a little on a growing slice of the data, N weak copies
 * train C steps each on their own ~10% subsets with varied protocols (in
 * worker processes through soup.h, so the result does not depend on the
 * worker count), each weak model's global-magnitude keep-mask at the round
 * sparsity is taken, and the union of those keep-masks, trimmed by m's
 * magnitudes to exactly the round sparsity, becomes m's mask. Everything
 * random (slices, subsets, weak seeds) is drawn from c->seed, the round and
 * the weak model's index only. Not here: the final fine-tune (the caller's).
 * The authors' untrimmed rule (FR_ISP_MERGE_UNION) has rounds of data-driven
 * size, so its loop is its own (union_rounds); the round's pieces are shared.
 */
#include "frugal/clock.h"
#include "frugal/methods/lottery.h"

#include "frugal/methods/prune.h"
#include "frugal/methods/soup.h"
#include "frugal/rng.h"
#include "frugal/status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double LR_MULT[5] = {1.0, 0.5, 2.0, 0.7, 1.4};
static const double WD_MULT[4] = {1.0, 0.0, 10.0, 3.0};

void fr_isp_config_defaults(struct fr_isp_config *c) {
    memset(c, 0, sizeof *c);
    c->sparsity = 0.5;
    c->rate = 0.15;
    c->n_weak = 4;
    c->lookahead = 40;
    c->subset_frac = 0.1;
    c->round_steps = 40;
    fr_fit_classifier_config_defaults(&c->fit);
    c->vary = FR_ISP_VARY_LR | FR_ISP_VARY_WD | FR_ISP_VARY_SEED;
    c->workers = 0;
    c->merge = FR_ISP_MERGE_TRIM;
    c->close = 0.05;
    c->seed = 1;
}

/* The scoped slab offsets in slab order. */
static int64_t *scoped_index(const struct fr_params *p, const int *sel, int64_t *N) {
    int64_t n = 0;
    for (int i = 0; i < p->count; i++)
        if (sel[i]) n += fr_nelem(p->items[i].t);
    int64_t *ix = n ? malloc((size_t)n * sizeof *ix) : NULL;
    if (!ix) return NULL;
    int64_t q = 0;
    for (int i = 0; i < p->count; i++) {
        if (!sel[i]) continue;
        for (int64_t j = 0; j < fr_nelem(p->items[i].t); j++)
            ix[q++] = p->items[i].offset + j;
    }
    *N = n;
    return ix;
}

int fr_isp_merge(struct fr_params *p, const int *sel, const float *masks, int k, double sparsity,
                 double *union_keep) {
    if (!(sparsity >= 0 && sparsity < 1) || k < 0)
        return fr_error(FR_EINVAL, "isp: bad sparsity %g or mask count %d", sparsity, k);
    int rc = fr_params_mask_init(p);
    if (rc) return rc;
    int64_t N = 0;
    int64_t *ix = scoped_index(p, sel, &N);
    float *score = ix ? malloc((size_t)N * sizeof *score) : NULL;
    float *keep = ix ? malloc((size_t)N * sizeof *keep) : NULL;
    if (!ix || !score || !keep) {
        rc =
            N ? fr_error(FR_ENOMEM, "isp: out of memory") : fr_error(FR_EINVAL, "isp: empty scope");
        goto cleanup;
    }
    int64_t pre = 0;
    for (int64_t q = 0; q < N; q++) {
        int64_t j = ix[q];
        int u = k == 0;
        for (int i = 0; i < k && !u; i++)
            u = masks[(size_t)i * (size_t)p->n + (size_t)j] != 0.0f;
        u = u && p->mask[j] != 0.0f;
        keep[q] = 1.0f;
        score[q] = u ? fabsf(p->data[j]) : -INFINITY;
        pre += !u;
    }
    int64_t target = (int64_t)llround(sparsity * (double)N);
    if (union_keep) *union_keep = 1.0 - (double)pre / (double)N;
    if (pre > target) {
        rc = fr_error(FR_EINVAL,
                      "isp: the union prunes %lld of %lld weights, more than the %lld "
                      "of sparsity %g",
                      (long long)pre, (long long)N, (long long)target, sparsity);
        goto cleanup;
    }
    if ((rc = fr_prune_lowest(score, N, target, keep))) goto cleanup;
    for (int64_t q = 0; q < N; q++)
        p->mask[ix[q]] = keep[q];
    fr_params_apply_mask(p);
cleanup:
    free(ix);
    free(score);
    free(keep);
    return rc;
}

int fr_isp_union(struct fr_params *p, const int *sel, const float *masks, int k, int64_t *pruned) {
    if (pruned) *pruned = 0;
    if (k < 1) return fr_error(FR_EINVAL, "isp: the union needs a mask (k %d)", k);
    int rc = fr_params_mask_init(p);
    if (rc) return rc;
    int64_t N = 0, newly = 0;
    int64_t *ix = scoped_index(p, sel, &N);
    if (!ix)
        return N ? fr_error(FR_ENOMEM, "isp: out of memory")
                 : fr_error(FR_EINVAL, "isp: empty scope");
    for (int64_t q = 0; q < N; q++) {
        int64_t j = ix[q];
        if (p->mask[j] == 0.0f) continue;
        int u = 0;
        for (int i = 0; i < k && !u; i++)
            u = masks[(size_t)i * (size_t)p->n + (size_t)j] != 0.0f;
        if (!u) p->mask[j] = 0.0f, newly++;
    }
    fr_params_apply_mask(p);
    free(ix);
    if (pruned) *pruned = newly;
    return 0;
}

/* Scoped weights masked in p. */
static int64_t scoped_pruned(const struct fr_params *p, const int64_t *ix, int64_t N) {
    int64_t z = 0;
    for (int64_t q = 0; q < N; q++)
        z += p->mask[ix[q]] == 0.0f;
    return z;
}

/* Scoped weights still alive in p that every one of the k masks prunes. */
static int64_t agreed(const struct fr_params *p, const int64_t *ix, int64_t N, const float *masks,
                      int k) {
    int64_t a = 0;
    for (int64_t q = 0; q < N && k > 0; q++) {
        int64_t j = ix[q];
        int u = p->mask[j] == 0.0f;
        for (int i = 0; i < k && !u; i++)
            u = masks[(size_t)i * (size_t)p->n + (size_t)j] != 0.0f;
        a += !u;
    }
    return a;
}

/* A weak keep-mask: m's mask, then the global-magnitude lowest of the
 * weak weights w pruned up to exactly the round's count. Written over the
 * whole slab (entries outside the scope: 1). */
static int weak_mask(const struct fr_params *p, const int64_t *ix, int64_t N, const float *w,
                     double sparsity, float *score, float *keep, float *out) {
    for (int64_t j = 0; j < p->n; j++)
        out[j] = 1.0f;
    for (int64_t q = 0; q < N; q++) {
        int alive = p->mask[ix[q]] != 0.0f;
        score[q] = alive ? fabsf(w[ix[q]]) : -INFINITY;
        keep[q] = 1.0f;
    }
    int rc = fr_prune_lowest(score, N, (int64_t)llround(sparsity * (double)N), keep);
    for (int64_t q = 0; q < N && !rc; q++)
        out[ix[q]] = keep[q];
    return rc;
}

static uint64_t mix3(uint64_t a, uint64_t b, uint64_t c) {
    struct fr_rng r;
    fr_rng_seed(&r, a ^ (b * 0x9e3779b97f4a7c15ull) ^ (c * 0xc2b2ae3d27d4eb4full));
    return fr_rng_u64(&r);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* dst = the first `take` of a permutation (drawn from seed) of the samples
 * (sub or 0..n-1), sorted. */
static int draw_subset(const struct fr_subset *sub, int64_t n, int64_t take, uint64_t seed,
                       int64_t *perm, struct fr_subset *dst) {
    struct fr_rng r;
    fr_rng_seed(&r, seed);
    fr_rng_permutation(&r, perm, n);
    dst->idx = malloc((size_t)take * sizeof *dst->idx);
    if (!dst->idx) return fr_error(FR_ENOMEM, "isp: out of memory");
    for (int64_t i = 0; i < take; i++)
        dst->idx[i] = sub ? sub->idx[perm[i]] : perm[i];
    qsort(dst->idx, (size_t)take, sizeof *dst->idx, cmp_i64);
    dst->n = take;
    return 0;
}

struct isp_state {
    int64_t N, *ix, *perm;
    float *score, *keep, *weak_w, *masks;
    struct fr_subset *subs;
    struct fr_ingredient *ing;
    struct fr_fit_result *wres;
    struct fr_optim_state mom; /* m's moments (FR_ISP_MERGE_UNION) */
};

static void state_free(struct isp_state *s, int nweak) {
    for (int i = 0; s->subs && i < nweak; i++)
        fr_subset_free(&s->subs[i]);
    free(s->subs);
    free(s->ix);
    free(s->perm);
    free(s->score);
    free(s->keep);
    free(s->weak_w);
    free(s->masks);
    free(s->ing);
    free(s->wres);
    free(s->mom.m);
    free(s->mom.v);
}

/* The weak models of round r: train, mask, and (soup) average into m. */
static int weak_round(struct fr_model *m, const struct fr_dataset *ds, const struct fr_subset *sub,
                      const struct fr_isp_config *c, struct isp_state *s, int r, double sparsity,
                      struct fr_lottery_result *res) {
    const struct fr_params *p = &m->params;
    int64_t n = sub ? sub->n : ds->n;
    int64_t take = (int64_t)llround(c->subset_frac * (double)n);
    if (take < c->fit.batch) take = c->fit.batch;
    int rc = 0;
    for (int i = 0; i < c->n_weak && !rc; i++) {
        fr_subset_free(&s->subs[i]);
        uint64_t ws = mix3(c->seed, (uint64_t)r, (uint64_t)i + 1);
        if ((rc = draw_subset(sub, n, take, ws, s->perm, &s->subs[i]))) break;
        struct fr_fit_classifier_config f = c->fit;
        f.steps = c->lookahead;
        f.epochs = 0;
        if (c->vary & FR_ISP_VARY_LR) f.lr *= LR_MULT[i % 5];
        if (c->vary & FR_ISP_VARY_WD) f.wd *= WD_MULT[i % 4];
        if (c->vary & FR_ISP_VARY_SEED) f.seed = ws;
        if (c->merge == FR_ISP_MERGE_UNION) f.from = &s->mom;
        f.to = NULL;
        s->ing[i].fit = f;
        s->ing[i].sub = &s->subs[i];
    }
    if (rc) return rc;
    if ((rc = fr_ingredients_train(m, ds, c->n_weak, s->ing, c->workers, s->weak_w, s->wres)))
        return rc;
    for (int i = 0; i < c->n_weak; i++) {
        res->weak_steps += s->wres[i].steps;
        res->steps += s->wres[i].steps;
    }
    for (int i = 0; i < c->n_weak && !rc; i++) {
        size_t o = (size_t)i * (size_t)p->n;
        rc = weak_mask(p, s->ix, s->N, s->weak_w + o, sparsity, s->score, s->keep, s->masks + o);
    }
    if (!rc && c->soup) rc = fr_soup_uniform(s->weak_w, c->n_weak, p->n, m->params.data);
    return rc;
}

static int check_config(const struct fr_isp_config *c, int64_t n) {
    if (c->n_weak < 0 || c->n_weak > 1024 || c->lookahead < 1 || c->round_steps < 0 ||
        !(c->subset_frac > 0 && c->subset_frac <= 1) || c->workers < 0 ||
        (c->merge != FR_ISP_MERGE_TRIM && c->merge != FR_ISP_MERGE_UNION) ||
        !(c->close >= 0 && c->close < 1))
        return fr_error(FR_EINVAL,
                        "isp: bad config (N %d, C %lld, subset %g, round steps %lld, "
                        "workers %d, merge %d, close %g)",
                        c->n_weak, (long long)c->lookahead, c->subset_frac,
                        (long long)c->round_steps, c->workers, c->merge, c->close);
    if (c->fit.batch < 1 || c->fit.batch > n)
        return fr_error(FR_EINVAL, "isp: batch %d with %lld training samples", c->fit.batch,
                        (long long)n);
    return 0;
}

/* m's own training of round r of about R: round_steps on the first
 * (r + 1) / R of a seeded permutation (at least a batch, at most all). */
static int own_round(struct fr_model *m, const struct fr_dataset *ds, const struct fr_subset *sub,
                     const struct fr_isp_config *c, struct isp_state *s, int r, int R,
                     struct fr_lottery_result *res) {
    if (c->round_steps <= 0) return 0;
    int64_t n = sub ? sub->n : ds->n;
    int64_t take = (int64_t)ceil((double)n * (double)(r + 1) / (double)R);
    if (take > n) take = n;
    if (take < c->fit.batch) take = c->fit.batch;
    struct fr_subset slice = {0};
    int rc = draw_subset(sub, n, take, mix3(c->seed, 0x51ce, 0), s->perm, &slice);
    if (rc) return rc;
    struct fr_fit_classifier_config f = c->fit;
    f.steps = c->round_steps;
    f.epochs = 0;
    f.seed = mix3(c->seed, (uint64_t)r, 0);
    f.from = f.to = c->merge == FR_ISP_MERGE_UNION ? &s->mom : NULL;
    struct fr_fit_result fr;
    rc = fr_fit_classifier(m, ds, &slice, NULL, &f, &fr);
    fr_subset_free(&slice);
    res->steps += fr.steps;
    return rc;
}

/* Magnitude-prunes m's scope to exactly `sparsity`, counting what it adds. */
static int magnitude_to(struct fr_params *p, const int *sel, struct isp_state *s, double sparsity,
                        struct fr_lottery_result *res) {
    int64_t before = scoped_pruned(p, s->ix, s->N);
    int rc = fr_isp_merge(p, sel, NULL, 0, sparsity, NULL);
    if (!rc) res->magnitude_pruned += scoped_pruned(p, s->ix, s->N) - before;
    return rc;
}

/* The trimmed rule along the schedule sched[0..R). */
static int trim_rounds(struct fr_model *m, const int *sel, const struct fr_dataset *ds,
                       const struct fr_subset *sub, const struct fr_isp_config *c,
                       struct isp_state *s, const double *sched, int R,
                       struct fr_lottery_result *res) {
    struct fr_params *p = &m->params;
    const int K = c->n_weak;
    int rc = 0;
    for (int r = 0; r < R && !rc; r++) {
        if ((rc = own_round(m, ds, sub, c, s, r, R, res))) break;
        if (K > 0 && (rc = weak_round(m, ds, sub, c, s, r, sched[r], res))) break;
        int64_t before = scoped_pruned(p, s->ix, s->N), a = agreed(p, s->ix, s->N, s->masks, K);
        if ((rc = fr_isp_merge(p, sel, s->masks, K, sched[r], &res->union_keep))) break;
        res->weak_pruned += a;
        res->magnitude_pruned += scoped_pruned(p, s->ix, s->N) - before - a;
        res->rounds = r + 1;
        if (c->on_round) rc = c->on_round(c->user, m, r + 1, sched[r], res->steps);
    }
    return rc;
}

/* The authors' untrimmed rule: each round's weak models prune `rate` of
 * the remaining weights (not past the next stop), m keeps the union; within
 * c->close of the stop a magnitude prune reaches it exactly. R (the trimmed
 * schedule's length) only paces the growing slices of m's own training. */
static int union_rounds(struct fr_model *m, const int *sel, const struct fr_dataset *ds,
                        const struct fr_subset *sub, const struct fr_isp_config *c,
                        struct isp_state *s, int R, struct fr_lottery_result *res) {
    struct fr_params *p = &m->params;
    const int K = c->n_weak;
    const double N = (double)s->N;
    int rc = 0, k = 0;
    for (int r = 0; k <= c->nstops && !rc; r++) {
        double goal = k < c->nstops ? c->stops[k] : c->sparsity;
        if (r >= FR_LOTTERY_MAX_ROUNDS)
            return fr_error(FR_EINVAL,
                            "isp: %d rounds of the untrimmed union without reaching %g (the "
                            "weak masks agree on too little)",
                            r, goal);
        double cur = (double)scoped_pruned(p, s->ix, s->N) / N;
        double t = 1.0 - (1.0 - cur) * (1.0 - c->rate);
        if (t > goal) t = goal;
        if ((rc = own_round(m, ds, sub, c, s, r, R, res))) break;
        if (K > 0) {
            int64_t got = 0;
            if ((rc = weak_round(m, ds, sub, c, s, r, t, res)) ||
                (rc = fr_isp_union(p, sel, s->masks, K, &got)))
                break;
            res->weak_pruned += got;
            res->union_keep = 1.0 - (double)scoped_pruned(p, s->ix, s->N) / N;
        } else if ((rc = magnitude_to(p, sel, s, t, res))) {
            break;
        }
        double now = (double)scoped_pruned(p, s->ix, s->N) / N;
        if (goal - now <= c->close + 0.5 / N) { /* close enough: one-shot to the stop */
            if ((rc = magnitude_to(p, sel, s, goal, res))) break;
            now = goal;
            k++;
        }
        res->rounds = r + 1;
        if (c->on_round) rc = c->on_round(c->user, m, r + 1, now, res->steps);
    }
    return rc;
}

int fr_isp(struct fr_model *m, const int *sel, const struct fr_dataset *ds,
           const struct fr_subset *sub, const struct fr_isp_config *c,
           struct fr_lottery_result *res) {
    memset(res, 0, sizeof *res);
    double t0 = fr_seconds(), sched[FR_LOTTERY_MAX_ROUNDS];
    int64_t n = sub ? sub->n : ds->n;
    int rc = check_config(c, n);
    if (rc) return rc;
    int R = fr_lottery_schedule(c->sparsity, c->rate, c->stops, c->nstops, sched,
                                FR_LOTTERY_MAX_ROUNDS);
    if (R < 0) return R;
    struct fr_params *p = &m->params;
    struct isp_state s = {0};
    int K = c->n_weak;
    if ((rc = fr_params_mask_init(p))) return rc;
    s.ix = scoped_index(p, sel, &s.N);
    s.perm = malloc((size_t)n * sizeof *s.perm);
    s.score = malloc((size_t)(s.N > 0 ? s.N : 1) * sizeof *s.score);
    s.keep = malloc((size_t)(s.N > 0 ? s.N : 1) * sizeof *s.keep);
    s.subs = calloc((size_t)K + 1, sizeof *s.subs);
    s.ing = calloc((size_t)K + 1, sizeof *s.ing);
    s.wres = calloc((size_t)K + 1, sizeof *s.wres);
    s.weak_w = malloc(((size_t)K + 1) * (size_t)p->n * sizeof(float));
    s.masks = malloc(((size_t)K + 1) * (size_t)p->n * sizeof(float));
    int moments = c->merge == FR_ISP_MERGE_UNION;
    if (moments) {
        s.mom.m = calloc((size_t)p->n, sizeof(float));
        s.mom.v = calloc((size_t)p->n, sizeof(float));
    }
    if (!s.ix || !s.perm || !s.score || !s.keep || !s.subs || !s.ing || !s.wres || !s.weak_w ||
        !s.masks || (moments && (!s.mom.m || !s.mom.v))) {
        rc = s.N ? fr_error(FR_ENOMEM, "isp: out of memory")
                 : fr_error(FR_EINVAL, "isp: empty scope");
        goto cleanup;
    }
    rc = moments ? union_rounds(m, sel, ds, sub, c, &s, R, res)
                 : trim_rounds(m, sel, ds, sub, c, &s, sched, R, res);
    if (!rc) /* the final one-shot to exactly S (a no-op when the last round hit it) */
        rc = magnitude_to(p, sel, &s, c->sparsity, res);
cleanup:
    res->seconds = fr_seconds() - t0;
    state_free(&s, K + 1);
    return rc;
}
